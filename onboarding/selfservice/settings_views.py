"""``/account/settings/``: display name, email address, password, and the list of signed-in browsers.

One URL, one form per concern, dispatched on ``op`` (as the sign-in page does). Each form answers 422
with its errors beside the fields, 303 (or HX-Redirect) on success.
"""

from __future__ import annotations

import hashlib
from typing import Any

from flask import abort, flash, request, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from werkzeug.wrappers import Response

from onboarding.accounts import service as accounts
from onboarding.accounts.models import UserSession
from onboarding.audit import service as audit
from onboarding.auth import service as auth
from onboarding.extensions import db, utcnow
from onboarding.passwords import verify_password
from onboarding.selfservice import bp
from onboarding.selfservice import service as selfservice
from onboarding.selfservice.forms import EmailChangeForm, PasswordChangeForm, ProfileForm
from onboarding.selfservice.useragent import describe
from onboarding.web.client import client_ip
from onboarding.web.converters import bounded_id
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import is_htmx, render, see_other

TEMPLATE = "account/settings.html"
WRONG_PASSWORD = "The password is incorrect."
TOO_MANY = "You have made too many attempts. Please try again later."


def _sessions() -> list[dict[str, Any]]:
    current = hashlib.sha256((current_user.session_key or "").encode()).hexdigest()
    rows = db.session.scalars(
        select(UserSession)
        .where(UserSession.user_id == current_user.id, UserSession.expires_at > utcnow())
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
    )
    return [
        {
            "id": row.id,
            "browser": describe(row.user_agent),
            "ip": row.ip_address or "unknown",
            "last_seen": row.last_seen_at,
            "created": row.created_at,
            "current": row.key_hash == current,
        }
        for row in rows
    ]


def _page(*, status: int = 200, block: str | None = None, **ctx: Any) -> Response:
    user = current_user
    full: dict[str, Any] = {
        "profile_form": ProfileForm(formdata=None, name=user.name),
        "email_form": EmailChangeForm(formdata=None),
        "password_form": PasswordChangeForm(formdata=None),
        "verified": selfservice.is_verified(user),
        "resend_error": None,
        "sessions": _sessions(),
    }
    full.update(ctx)
    return render(TEMPLATE, block=block, status=status, **full)


def _done(message: str) -> Response:
    flash(message, "success")
    return see_other(url_for("account.settings"))


@bp.route("/settings/", methods=["GET", "POST"])
@login_required
def settings() -> Response:
    if request.method == "GET":
        return _page()
    handlers = {
        "profile": _profile,
        "email": _email,
        "password": _password,
        "resend": _resend,
        "end-session": _end_session,
        "end-other-sessions": _end_other_sessions,
    }
    handler = handlers.get(request.form.get("op", ""))
    if handler is None:
        abort(400, "Unknown form.")
    return handler()


def _profile() -> Response:
    form = ProfileForm()
    if not form.validate():
        return _page(status=422, block="profile_form", profile_form=form)
    old, new = current_user.name, form.name.data.strip()
    if not new:
        form.name.errors = ["Enter your name."]
        return _page(status=422, block="profile_form", profile_form=form)
    current_user.name = new
    audit.record(
        "user.edit",
        actor=current_user,
        target_user_id=current_user.id,
        ip_address=client_ip(),
        data={"name": new, "old_name": old},
    )
    db.session.commit()
    return _done("Your name has been saved.")


def _check_password(field: Any) -> int:
    """Check the re-entered password, throttled like sign-in; returns the status to answer (0 = fine)."""
    email, ip = current_user.email, client_ip()
    wait = auth.login_retry_after(email, ip)
    if wait:
        field.errors = [TOO_MANY]
        return 429
    if not verify_password(current_user.password_hash, field.data or ""):
        auth.record_login_failure(email, ip)
        field.errors = [WRONG_PASSWORD]
        return 422
    return 0


def _email() -> Response:
    form = EmailChangeForm()
    if not form.validate():
        form.password.data = ""
        return _page(status=422, block="email_form", email_form=form)
    status = _check_password(form.password)
    if status:
        form.password.data = ""
        return _page(status=status, block="email_form", email_form=form)
    try:
        selfservice.request_email_change(current_user, form.email.data)
    except selfservice.EmailChangeError as exc:
        form.email.errors = [str(exc)]
        form.password.data = ""
        return _page(status=422, block="email_form", email_form=form)
    audit.record(
        "user.email.change-request",
        actor=current_user,
        target_user_id=current_user.id,
        ip_address=client_ip(),
        data={"new_email": form.email.data},
    )
    db.session.commit()
    return _done(
        f"We sent a link to {form.email.data}. Your email address changes once you follow it; "
        f"{current_user.email} has been told about the request."
    )


def _password() -> Response:
    form = PasswordChangeForm()
    form.user_inputs = (current_user.email, current_user.name)
    if not form.validate():
        form.old_password.data = form.new_password.data = ""
        return _page(status=422, block="password_form", password_form=form)
    status = _check_password(form.old_password)
    if status:
        form.old_password.data = form.new_password.data = ""
        return _page(status=status, block="password_form", password_form=form)
    accounts.set_password(current_user, form.new_password.data)
    ended = accounts.end_other_sessions(current_user, keep_key=current_user.session_key)
    audit.record(
        "user.password.change",
        actor=current_user,
        target_user_id=current_user.id,
        ip_address=client_ip(),
        data={"sessions_ended": ended},
    )
    db.session.commit()
    return _done("Your password has been changed. Your other sessions have been signed out.")


def _resend() -> Response:
    EmptyForm()
    if selfservice.is_verified(current_user):
        return _done(f"{current_user.email} is already confirmed.")
    wait = selfservice.resend_retry_after(current_user)
    if wait:
        resp = _page(status=429, block="email_status", resend_error=selfservice.RESEND_THROTTLED)
        resp.headers["Retry-After"] = str(wait)
        return resp
    selfservice.send_confirmation(current_user)
    audit.record(
        "user.email.confirm-resend",
        actor=current_user,
        target_user_id=current_user.id,
        ip_address=client_ip(),
    )
    db.session.commit()
    return _done(f"We sent a new confirmation link to {current_user.email}.")


def _end_session() -> Response:
    session_id = bounded_id(request.form.get("session_id", ""))
    if session_id is None:
        abort(400, "Choose a session to end.")
    record = db.session.scalar(
        select(UserSession).where(UserSession.id == session_id, UserSession.user_id == current_user.id)
    )
    current = hashlib.sha256((current_user.session_key or "").encode()).hexdigest()
    if record is not None and record.key_hash == current:
        abort(400, "This is the browser you are using; use Sign out to end its session.")
    if record is not None:
        db.session.delete(record)
        audit.record(
            "user.session.end",
            actor=current_user,
            target_user_id=current_user.id,
            target_object=session_id,
            ip_address=client_ip(),
            data={"browser": describe(record.user_agent), "session_ip": record.ip_address},
        )
        db.session.commit()
    if is_htmx():
        return Response("", 200)  # the row is swapped for nothing
    return _done("The session has been ended." if record is not None else "That session had already ended.")


def _end_other_sessions() -> Response:
    EmptyForm()
    ended = accounts.end_other_sessions(current_user, keep_key=current_user.session_key)
    audit.record(
        "user.session.end-others",
        actor=current_user,
        target_user_id=current_user.id,
        ip_address=client_ip(),
        data={"sessions_ended": ended},
    )
    db.session.commit()
    if is_htmx():
        return _page(block="sessions")
    return _done("Every other session has been signed out." if ended else "There were no other sessions.")
