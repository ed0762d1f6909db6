"""The two deletion pages. Each is its own confirmation page: the real form, asking for the password or
the slug again. Plain POSTs answer 303; htmx POSTs swap the form (422/429) or follow ``HX-Redirect``."""

from __future__ import annotations

from typing import Any

from flask import current_app, flash, g, session, url_for
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from onboarding.auth import service as auth
from onboarding.deletion import bp
from onboarding.deletion import service as deletion
from onboarding.deletion.forms import AccountDeleteForm, OrgDeleteForm
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.access import org_required
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

WRONG_PASSWORD = "The password is incorrect."
TOO_MANY = "You have made too many attempts. Please try again later."
WRONG_SLUG = "That is not this organization's slug."


def _account_page(form: AccountDeleteForm, *, status: int = 200, error: str | None = None) -> Response:
    blocking = deletion.sole_owned(current_user)
    return render(
        "deletion/account.html",
        block="account_delete" if status != 200 else None,
        status=status,
        form=form,
        error=error,
        blocking=blocking,
        memberships=orgs.memberships(current_user),
        has_password=current_user.has_usable_password(),
        no_password=deletion.NO_PASSWORD,
    )


@bp.route("/account/settings/delete/", methods=["GET", "POST"])
@login_required
def account() -> Response:
    form = AccountDeleteForm()
    if not form.is_submitted():
        return _account_page(form)
    if not form.validate():
        form.password.data = ""
        return _account_page(form, status=422)
    status = _check_password(form)
    if status:
        return _account_page(form, status=status)
    try:
        deletion.delete_user(current_user._get_current_object(), ip=client_ip())  # type: ignore[attr-defined]
    except deletion.SoleOwnerError as exc:
        db.session.rollback()
        return _account_page(form, status=422, error=str(exc))
    logout_user()
    session.clear()
    db.session.commit()
    flash("Your account has been deleted. Everything tied to it is gone.", "success")
    return see_other(url_for("auth.login"))


def _check_password(form: AccountDeleteForm) -> int:
    """Throttled like sign-in (the password is checked with no transaction open); 0 when it matches."""
    email, ip = current_user.email, client_ip()
    password, form.password.data = form.password.data or "", ""
    if not current_user.has_usable_password():
        form.password.errors = [deletion.NO_PASSWORD]
        return 422
    if auth.login_retry_after(email, ip):
        form.password.errors = [TOO_MANY]
        return 429
    if not deletion.password_matches(current_user, password):
        auth.record_login_failure(email, ip)
        form.password.errors = [WRONG_PASSWORD]
        return 422
    return 0


def _org_page(form: OrgDeleteForm, *, status: int = 200, error: str | None = None) -> Response:
    ctx: dict[str, Any] = {
        "org": g.org,
        "form": form,
        "error": error or deletion.can_delete(g.org),
        "members": len(orgs.memberships_of(g.org)),
    }
    return render(
        "deletion/organization.html", block="org_delete" if status != 200 else None, status=status, **ctx
    )


@bp.route("/organizations/<org_slug>/settings/delete/", methods=["GET", "POST"])
@org_required("org:admin")
def organization(org_slug: str) -> Response:
    org = g.org
    form = OrgDeleteForm()
    if not form.is_submitted():
        return _org_page(form)
    if not form.validate():
        return _org_page(form, status=422)
    if form.confirm.data.lower() != org.slug:
        form.confirm.errors = [WRONG_SLUG]
        return _org_page(form, status=422)
    name = org.name
    try:
        deletion.delete_organization(org, current_user._get_current_object(), ip=client_ip())  # type: ignore[attr-defined]
    except deletion.OrgDeletionError as exc:
        db.session.rollback()
        return _org_page(form, status=422, error=str(exc))
    if session.get("activeorg") == org.slug:
        session.pop("activeorg", None)
    db.session.commit()
    current_app.logger.info("organization %s deleted; its rows are removed by a job", org_slug)
    flash(f"The {name} organization has been deleted. Its members have been told by email.", "success")
    return see_other(url_for("orgs.no_organization"))
