"""Passkey ceremonies as JSON under ``/auth/passkey/…`` (the security page's forms: page_views.py).

Every ceremony is two POSTs: ``…/options/`` hands out a challenge (kept server-side), the second
sends the browser's answer. The answer's challenge is spent whatever happens, so that request always
commits, refusals included.
"""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding import metrics
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.auth import service as auth_service
from onboarding.auth.flow import after_sign_in, sign_in
from onboarding.extensions import db
from onboarding.passkeys import bp, challenges, recent
from onboarding.passkeys import service as pk
from onboarding.twofactor import service as tf
from onboarding.twofactor.flow import after_2fa_enrolled, finish_second_step
from onboarding.web.client import client_ip

NOT_SIGNED_IN = "Sign in first."
NO_PENDING = "Your sign-in has expired. Please sign in again."
TOO_MANY = "Too many passkey requests from your address. Please try again in a minute."


def _error(status: int, message: str, **extra: Any) -> Response:
    resp = jsonify({"detail": message, **extra})
    resp.status_code = status
    return resp


def _origin() -> str:
    return request.host_url.rstrip("/")


def _rp() -> pk.RelyingParty:
    return pk.relying_party(_origin())


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}


def _origin_refusal() -> Response | None:
    message = pk.wrong_origin_message(_rp(), _origin())
    return _error(403, message) if message else None


def _challenge_refusal() -> Response | None:
    """Before a new challenge: the origin must be the relying party's, and the client within its limit."""
    refused = _origin_refusal()
    if refused:
        return refused
    wait = challenges.retry_after(client_ip())
    if wait:
        resp = _error(429, TOO_MANY)
        resp.headers["Retry-After"] = str(wait)
        return resp
    return None


# --- adding a passkey (signed in) ---------------------------------------------------------------------


@bp.post("/auth/passkey/register/options/")
def register_options() -> Response:
    if not current_user.is_authenticated:
        return _error(401, NOT_SIGNED_IN)
    refused = _challenge_refusal()
    if refused:
        return refused
    if not recent.is_recent(current_user):
        if not current_user.has_usable_password():
            return _error(403, recent.CONFIRM_WITH_PASSKEY)
        error = recent.check_password(current_user, _body().get("password"))
        if error:
            db.session.commit()
            return _error(403, error)
        recent.mark_confirmed()
    options = pk.registration_options(current_user, _rp())
    db.session.commit()
    return jsonify({"publicKey": options})


@bp.post("/auth/passkey/register/")
def register() -> Response:
    if not current_user.is_authenticated:
        return _error(401, NOT_SIGNED_IN)
    refused = _origin_refusal()
    if refused:
        return refused
    body = _body()
    user: User = current_user
    try:
        passkey = pk.register(user, body.get("credential"), _rp(), body.get("name"))
    except pk.PasskeyError as exc:
        db.session.commit()  # the challenge is spent
        return _error(422, str(exc))
    audit.record(
        "user.passkey.add",
        actor=user,
        ip_address=client_ip(),
        data={"passkey_id": passkey.id, "name": passkey.name},
    )
    next_url = after_2fa_enrolled(user)
    db.session.commit()
    if not next_url:
        flash(f"The passkey “{passkey.name}” was added.", "success")
    return jsonify(
        {"id": passkey.id, "name": passkey.name, "redirect": next_url or url_for("twofactor.security")}
    )


# --- signing in with a passkey (no email typed) -----------------------------------------------------


@bp.post("/auth/passkey/signin/options/")
def signin_options() -> Response:
    refused = _challenge_refusal()
    if refused:
        return refused
    wait = auth_service.login_retry_after("", client_ip())
    if wait:
        resp = _error(429, auth_service.THROTTLED)
        resp.headers["Retry-After"] = str(wait)
        return resp
    options = pk.authentication_options("signin", _rp())
    db.session.commit()
    return jsonify({"publicKey": options})


@bp.post("/auth/passkey/signin/")
def signin() -> Response:
    refused = _origin_refusal()
    if refused:
        return refused
    ip = client_ip()
    wait = auth_service.login_retry_after("", ip)
    if wait:
        metrics.sign_in("throttled")
        resp = _error(429, auth_service.THROTTLED)
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        passkey = pk.authenticate("signin", _body().get("credential"), _rp())
    except pk.PasskeyError as exc:
        auth_service.record_login_failure("", ip)
        audit.record("user.login.failure", actor_label="passkey", ip_address=ip, data={"method": "passkey"})
        db.session.commit()  # the challenge is spent; the failure is recorded
        metrics.sign_in("failure")
        return _error(422, str(exc))
    user = db.session.get(User, passkey.user_id)
    if user is None or not user.is_active:
        db.session.commit()
        metrics.sign_in("disabled")
        return _error(403, auth_service.DISABLED)
    tf.clear_pending()
    sign_in(user)
    audit.record(
        "user.login.success", actor=user, ip_address=ip, data={"method": "passkey", "passkey_id": passkey.id}
    )
    target = after_sign_in(user)  # resumes a pending invite, as every sign-in does
    db.session.commit()
    metrics.sign_in("success")
    return jsonify({"redirect": target})


# --- a passkey as the second factor after a password ----------------------------------------------


@bp.post("/auth/passkey/2fa/options/")
def second_factor_options() -> Response:
    refused = _challenge_refusal()
    if refused:
        return refused
    found = tf.pending()
    if found is None or not pk.user_has_passkey(found[0].id):
        db.session.commit()
        return _error(401, NO_PENDING)
    options = pk.authentication_options("second", _rp(), found[0])
    db.session.commit()
    return jsonify({"publicKey": options})


@bp.post("/auth/passkey/2fa/")
def second_factor() -> Response:
    refused = _origin_refusal()
    if refused:
        return refused
    found = tf.pending()
    if found is None:
        db.session.commit()
        return _error(401, NO_PENDING)
    user, org_id = found
    wait = tf.retry_after(user.id)
    if wait:
        resp = _error(429, tf.THROTTLED)
        resp.headers["Retry-After"] = str(wait)
        return resp
    try:
        passkey = pk.authenticate("second", _body().get("credential"), _rp())
    except pk.PasskeyError as exc:
        tf.record_failure(user.id)
        audit.record(
            "user.2fa.failure",
            organization_id=org_id,
            actor=user,
            ip_address=client_ip(),
            data={"method": "passkey"},
        )
        db.session.commit()
        return _error(422, str(exc))
    if passkey.user_id != user.id:  # the challenge names the user; this is belt and braces
        db.session.commit()
        return _error(422, pk.UNKNOWN_PASSKEY)
    target = finish_second_step(user, org_id, "passkey")
    db.session.commit()
    return jsonify({"redirect": target})


# --- confirming a passkey-only user's identity again (a recent sign-in) ---------------------------


@bp.post("/auth/passkey/confirm/options/")
def confirm_options() -> Response:
    if not current_user.is_authenticated:
        return _error(401, NOT_SIGNED_IN)
    refused = _challenge_refusal()
    if refused:
        return refused
    if not pk.user_has_passkey(current_user.id):
        return _error(422, "You have no passkey yet. Confirm with your password instead.")
    options = pk.authentication_options("confirm", _rp(), current_user)
    db.session.commit()
    return jsonify({"publicKey": options})


@bp.post("/auth/passkey/confirm/")
def confirm() -> Response:
    if not current_user.is_authenticated:
        return _error(401, NOT_SIGNED_IN)
    refused = _origin_refusal()
    if refused:
        return refused
    try:
        pk.authenticate("confirm", _body().get("credential"), _rp())
    except pk.PasskeyError as exc:
        db.session.commit()
        return _error(422, str(exc))
    recent.mark_confirmed()
    db.session.commit()
    return jsonify({"redirect": url_for("twofactor.security")})
