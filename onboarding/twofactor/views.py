"""``/auth/2fa/`` (second step of sign-in), ``/account/settings/security/`` (enrollment) and an
organization's two-factor policy page."""

from __future__ import annotations

from typing import Any

from flask import flash, g, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.auth import service as auth_service
from onboarding.extensions import db
from onboarding.orgs.access import org_required
from onboarding.orgs.models import OrgFlags
from onboarding.passwords import verify_password
from onboarding.twofactor import bp, policy
from onboarding.twofactor import service as tf
from onboarding.twofactor.flow import after_2fa_enrolled, finish_second_step
from onboarding.twofactor.forms import CodeForm, PasswordConfirmForm, Require2FAForm
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

WRONG_PASSWORD = "That password is not correct."


# --- second step of sign-in -----------------------------------------------------------------------


@bp.route("/auth/2fa/", methods=["GET", "POST"])
def challenge() -> Response:
    started = tf.PENDING_KEY in session  # a sign-in was waiting here, so "expired" is true
    found = tf.pending()
    if found is None:
        if started:
            flash("Your sign-in has expired. Please sign in again.", "warning")
        db.session.rollback()
        return see_other(url_for("auth.login"))
    user, org_id = found
    form = CodeForm()
    # A user may have the app, passkeys, or both; the page offers what they have.
    has_totp = tf.user_has_totp(user.id)
    has_other = tf.has_other_factor(user.id)
    if request.method == "GET":
        return render("twofactor/challenge.html", form=form, has_totp=has_totp, has_other=has_other)

    def fail(message: str, status: int) -> Response:
        form.otp.data = ""
        form.otp.errors = [message]
        return render(
            "twofactor/challenge.html",
            block="form",
            status=status,
            form=form,
            has_totp=has_totp,
            has_other=has_other,
        )

    wait = tf.retry_after(user.id)
    if wait:
        resp = fail(tf.THROTTLED, 429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    auth = tf.get_authenticator(user)
    if not form.validate() or auth is None or not tf.verify_code(auth, form.otp.data):
        db.session.rollback()
        tf.record_failure(user.id)
        audit.record("user.2fa.failure", organization_id=org_id, actor=user, ip_address=client_ip(), data={})
        db.session.commit()
        return fail(tf.INVALID_CODE, 422)
    target = finish_second_step(user, org_id, "totp")
    db.session.commit()
    return see_other(target)


# --- enrollment on the account's security page ----------------------------------------------------


def security_page(status: int = 200, **ctx: Any) -> Response:
    auth = tf.get_authenticator(current_user)
    page: dict[str, Any] = {
        "auth": auth,
        "remaining": tf.remaining_recovery_codes(auth) if auth else 0,
        "enroll_form": ctx.pop("enroll_form", None) or CodeForm(formdata=None),
        "remove_form": ctx.pop("remove_form", None) or PasswordConfirmForm(formdata=None),
        "regen_form": ctx.pop("regen_form", None) or PasswordConfirmForm(formdata=None, prefix="regen"),
        **ctx,
    }
    if auth is None:
        secret = tf.enrollment_secret()
        page["secret"] = secret
        page["qr_svg"] = tf.qr_svg(tf.provisioning_uri(current_user, secret))
    return render("twofactor/security.html", status=status, **page)


@bp.route("/account/settings/security/", methods=["GET"])
@login_required
def security() -> Response:
    return security_page()


@bp.route("/account/settings/security/", methods=["POST"])
@login_required
def enroll() -> Response:
    form = CodeForm()
    secret = session.get(tf.ENROLL_KEY)
    if not form.validate() or not secret:
        return security_page(422, enroll_form=form)
    try:
        codes = tf.confirm_enrollment(current_user, str(secret), form.otp.data)
    except tf.TwoFactorError as exc:
        db.session.rollback()
        form.otp.errors = [str(exc)]
        form.otp.data = ""
        return security_page(422, enroll_form=form)
    session.pop(tf.ENROLL_KEY, None)
    audit.record("user.2fa.enroll", actor=current_user, ip_address=client_ip(), data={"type": "totp"})
    next_url = after_2fa_enrolled(current_user)
    db.session.commit()
    # Messages for the page the Continue link leads to (e.g. "You have been added to …" after an
    # invite was accepted) are held back from this page, which would consume them, and put back.
    held = session.pop("_flashes", None)
    # The recovery codes are shown in this answer only; they are stored hashed.
    resp = security_page(
        recovery_codes=codes,
        next_url=next_url,
        just_enrolled=True,
        held_messages=[message for _category, message in held or []],
    )
    if held:
        session["_flashes"] = held
    return resp


def _password_ok(form: PasswordConfirmForm) -> bool:
    """Re-entered password check, throttled like sign-in (failures per email and IP)."""
    ip = client_ip()
    if auth_service.login_retry_after(current_user.email, ip):
        form.password.errors = [auth_service.THROTTLED]
        return False
    if not form.validate():
        return False
    if not verify_password(current_user.password_hash, form.password.data or ""):
        auth_service.record_login_failure(current_user.email, ip)
        form.password.errors = [WRONG_PASSWORD]
        return False
    return True


@bp.route("/account/settings/security/remove/", methods=["POST"])
@login_required
def remove() -> Response:
    form = PasswordConfirmForm()
    if not current_user.has_usable_password():
        form.password.errors = ["Set a password for your account first; then two-factor can be removed."]
        return security_page(422, remove_form=form)
    if not _password_ok(form):
        return security_page(422, remove_form=form)
    try:
        removed = tf.remove(current_user)
    except tf.TwoFactorError as exc:
        db.session.rollback()
        form.password.errors = [str(exc)]
        return security_page(403, remove_form=form)
    if removed:
        audit.record("user.2fa.remove", actor=current_user, ip_address=client_ip(), data={"type": "totp"})
    db.session.commit()
    flash("Two-factor authentication has been turned off.", "success")
    return see_other(url_for("twofactor.security"))


@bp.route("/account/settings/security/recovery-codes/", methods=["POST"])
@login_required
def regenerate() -> Response:
    form = PasswordConfirmForm(prefix="regen")
    auth = tf.get_authenticator(current_user)
    if auth is None:
        return see_other(url_for("twofactor.security"))
    if not current_user.has_usable_password():
        form.password.errors = ["Set a password for your account first."]
        return security_page(422, regen_form=form)
    if not _password_ok(form):
        return security_page(422, regen_form=form)
    codes = tf.regenerate_recovery_codes(auth)
    audit.record("user.2fa.recovery-codes", actor=current_user, ip_address=client_ip(), data={})
    db.session.commit()
    return security_page(recovery_codes=codes)


# --- an organization's two-factor policy ----------------------------------------------------------


@bp.route("/organizations/<org_slug>/settings/security/", methods=["GET", "POST"])
@org_required("org:admin")
def org_security(org_slug: str) -> Response:
    org = g.org
    form = Require2FAForm()
    if request.method == "GET":
        form.require2FA.data = org.has_flag(OrgFlags.REQUIRE_2FA)
        return render("twofactor/org_security.html", org=org, form=form)
    if not form.validate():
        return render("twofactor/org_security.html", block="form", status=422, org=org, form=form)
    try:
        pending = policy.set_require_2fa(org, bool(form.require2FA.data), current_user, client_ip())
    except policy.PolicyError as exc:
        db.session.rollback()
        form.require2FA.errors = [str(exc)]
        form.require2FA.data = org.has_flag(OrgFlags.REQUIRE_2FA)
        return render("twofactor/org_security.html", block="form", status=422, org=org, form=form)
    db.session.commit()
    if form.require2FA.data:
        message = "Two-factor authentication is now required."
        if pending:
            message += f" {len(pending)} member(s) without it were sent a new invite link."
    else:
        message = "Two-factor authentication is no longer required."
    flash(message, "success")
    return see_other(url_for("twofactor.org_security", org_slug=org.slug))
