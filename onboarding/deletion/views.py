"""The two deletion pages. Each is its own confirmation page: the real form, asking for the password or
the slug again. Plain POSTs answer 303; htmx POSTs swap the form (422/429) or follow ``HX-Redirect``."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app, flash, g, jsonify, request, session, url_for
from flask_login import current_user, login_required, logout_user
from werkzeug.wrappers import Response

from onboarding.auth import service as auth
from onboarding.deletion import bp
from onboarding.deletion import service as deletion
from onboarding.deletion.forms import AccountDeleteForm, OrgDeleteForm
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.access import org_required
from onboarding.passkeys import service as passkeys
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

WRONG_PASSWORD = "The password is incorrect."
TOO_MANY = "You have made too many attempts. Please try again later."
WRONG_SLUG = "That is not this organization's slug."
NO_PASSWORD_PASSKEY = "Your account has no password: confirm with your passkey instead."
PASSKEY_CONFIRMED = "_delete_confirmed_at"  # set by a passkey on this page only
CONFIRM_SECONDS = 10 * 60


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
        has_passkey=passkeys.user_has_passkey(current_user.id),
        passkey_confirmed=_passkey_confirmed(),
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
    """Throttled like sign-in (the password is checked with no transaction open); 0 when it matches,
    or when no password was typed but a passkey confirmed it is them in the last ten minutes."""
    email, ip = current_user.email, client_ip()
    password, form.password.data = form.password.data or "", ""
    if not password and _passkey_confirmed():
        return 0
    if not current_user.has_usable_password():
        form.password.errors = [
            NO_PASSWORD_PASSKEY if passkeys.user_has_passkey(current_user.id) else deletion.NO_PASSWORD
        ]
        return 422
    if not password:
        form.password.errors = ["Enter your password."]
        return 422
    if auth.login_retry_after(email, ip):
        form.password.errors = [TOO_MANY]
        return 429
    if not deletion.password_matches(current_user, password):
        auth.record_login_failure(email, ip)
        form.password.errors = [WRONG_PASSWORD]
        return 422
    return 0


def _passkey_confirmed() -> bool:
    at = session.get(PASSKEY_CONFIRMED)
    return isinstance(at, int) and 0 <= time.time() - at <= CONFIRM_SECONDS


@bp.post("/account/settings/delete/passkey/")
@login_required
def passkey_confirm() -> Response:
    """A passkey answers for the password: the browser's answer to the prompt whose options came from
    ``passkeys.confirm_options`` (only this user's passkeys). For ten minutes this session may then
    delete the account without typing a password. JSON, like every passkey ceremony."""
    origin = request.host_url.rstrip("/")
    rp = passkeys.relying_party(origin)
    refusal = passkeys.wrong_origin_message(rp, origin)
    if refusal:
        return _json(403, {"detail": refusal})
    body = request.get_json(silent=True)
    try:
        used = passkeys.authenticate(
            "confirm", (body if isinstance(body, dict) else {}).get("credential"), rp
        )
    except passkeys.PasskeyError as exc:
        db.session.commit()  # the challenge is spent whatever happens
        return _json(422, {"detail": str(exc)})
    if used.user_id != current_user.id:
        db.session.commit()
        return _json(422, {"detail": passkeys.UNKNOWN_PASSKEY})
    session[PASSKEY_CONFIRMED] = int(time.time())
    db.session.commit()
    return _json(200, {"redirect": url_for("deletion.account")})


def _json(status: int, body: dict[str, Any]) -> Response:
    resp = jsonify(body)
    resp.status_code = status
    return resp


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
