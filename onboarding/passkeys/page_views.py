"""The passkey list on ``/account/settings/security/`` (plain forms: rename, remove) and what the
included templates (security page, sign-in page, second step) need to draw the passkey parts."""

from __future__ import annotations

from typing import Any

from flask import flash, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.passkeys import bp, recent
from onboarding.passkeys import service as pk
from onboarding.passkeys.forms import RemoveForm, RenameForm
from onboarding.web.client import client_ip
from onboarding.web.htmx import is_htmx, see_other


def _origin() -> str:
    return request.host_url.rstrip("/")


# --- the list on the security page ----------------------------------------------------------------


def _page(status: int, **ctx: Any) -> Response:
    from onboarding.twofactor.views import security_page

    return security_page(status, **ctx)


@bp.post("/account/settings/security/passkeys/<int:passkey_id>/rename/")
@login_required
def rename(passkey_id: int) -> Response:
    passkey = pk.get_passkey(current_user, passkey_id)
    if passkey is None:
        flash("That passkey no longer exists.", "warning")
        return see_other(url_for("twofactor.security"))
    form = RenameForm()
    try:
        if not form.validate():
            raise pk.PasskeyError(" ".join(form.name.errors) or "Enter a name for the passkey.")
        pk.rename(passkey, form.name.data)
    except pk.PasskeyError as exc:
        db.session.rollback()
        return _page(
            422, passkey_errors={passkey_id: {"name": str(exc)}}, passkey_values={passkey_id: form.name.data}
        )
    audit.record(
        "user.passkey.rename", actor=current_user, ip_address=client_ip(), data={"passkey_id": passkey_id}
    )
    db.session.commit()
    flash("The passkey was renamed.", "success")
    return see_other(url_for("twofactor.security"))


@bp.post("/account/settings/security/passkeys/<int:passkey_id>/remove/")
@login_required
def remove(passkey_id: int) -> Response:
    passkey = pk.get_passkey(current_user, passkey_id)
    if passkey is None:
        flash("That passkey no longer exists.", "warning")
        return see_other(url_for("twofactor.security"))
    form = RemoveForm()
    if not recent.is_recent(current_user):
        if not current_user.has_usable_password():
            return _page(403, passkey_errors={passkey_id: {"remove": recent.CONFIRM_WITH_PASSKEY}})
        error = recent.check_password(current_user, form.password.data)
        if error:
            return _page(422, passkey_errors={passkey_id: {"password": error}})
        recent.mark_confirmed()
    name = passkey.name
    try:
        pk.remove(current_user, passkey)
    except pk.PasskeyError as exc:
        db.session.rollback()
        if is_htmx():  # asked in a dialog: htmx does not swap a 403, so the page says it instead
            flash(str(exc), "error")
            return see_other(url_for("twofactor.security"))
        return _page(403, passkey_errors={passkey_id: {"remove": str(exc)}})
    audit.record(
        "user.passkey.remove",
        actor=current_user,
        ip_address=client_ip(),
        data={"passkey_id": passkey_id, "name": name},
    )
    db.session.commit()
    flash(f"The passkey “{name}” was removed.", "success")
    return see_other(url_for("twofactor.security"))


# --- what the included templates need --------------------------------------------------------------


def _panel() -> dict[str, Any]:
    signed_in = current_user.is_authenticated
    return {
        "passkeys": pk.passkeys_of(current_user) if signed_in else [],
        "recent": recent.is_recent(current_user) if signed_in else False,
        "has_password": bool(signed_in and current_user.has_usable_password()),
        "wrong_origin": pk.wrong_origin_message(pk.relying_party(_origin()), _origin()),
    }


@bp.app_context_processor
def _passkey_context() -> dict[str, Any]:
    return {"passkey_panel": _panel}
