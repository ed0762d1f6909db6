"""``/account/recover/…`` (forgotten password) and the links that confirm or change an email address.

Token pages send ``Referrer-Policy: no-referrer`` so the link never leaks to another site, and every
bad link (malformed, unknown, used, expired, rebound) gets the same page.
"""

from __future__ import annotations

from flask import flash, request, url_for
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.auth.flow import landing_url, sign_in
from onboarding.extensions import db
from onboarding.selfservice import bp, tokens
from onboarding.selfservice import service as selfservice
from onboarding.selfservice.forms import RecoverForm, ResetForm
from onboarding.selfservice.models import TokenPurpose
from onboarding.twofactor.service import user_has_2fa
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

INVALID_LINK = "This link is not valid, or has expired."
RECOVER_SENT = (
    "If an account uses that address, we have sent it an email with a link to choose a new password. "
    "The link works once, for one day."
)


def no_referrer(resp: Response) -> Response:
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def invalid_link(*, retry_url: str | None = None) -> Response:
    resp = render("account/link_invalid.html", status=404, message=INVALID_LINK, retry_url=retry_url)
    return no_referrer(resp)


@bp.route("/recover/", methods=["GET", "POST"])
def recover() -> Response:
    form = RecoverForm()
    if request.method == "GET":
        return render("account/recover.html", form=form, sent=None)
    if not form.validate():
        return render("account/recover.html", block="form", form=form, status=422, sent=None)
    ip = client_ip()
    wait = selfservice.recover_retry_after(form.email.data, ip)
    if wait:
        resp = render(
            "account/recover.html",
            block="form",
            form=form,
            status=429,
            sent=None,
            form_error=selfservice.RECOVER_THROTTLED,
        )
        resp.headers["Retry-After"] = str(wait)
        return resp
    audit.record("user.password-reset.request", actor_label=form.email.data[:254], ip_address=ip)
    selfservice.queue_password_reset(form.email.data)
    db.session.commit()
    # The same answer whether or not the address has an account.
    return render("account/recover.html", block="form", form=RecoverForm(formdata=None), sent=RECOVER_SENT)


@bp.route("/recover/confirm/<user_id>/<token>/", methods=["GET", "POST"])
def reset(user_id: str, token: str) -> Response:
    record = tokens.find(user_id, token, TokenPurpose.RESET_PASSWORD)
    if record is None:
        return invalid_link(retry_url=url_for("account.recover"))
    user = record.user
    form = ResetForm()
    form.user_inputs = (user.email, user.name)
    action = url_for("account.reset", user_id=user.id, token=token)
    if request.method == "GET" or not form.validate():
        status = 422 if request.method == "POST" else 200
        return no_referrer(
            render(
                "account/reset.html", block="form", form=form, action=action, email=user.email, status=status
            )
        )
    done = selfservice.reset_password(record, form.password.data)
    if done is None:
        db.session.rollback()
        return invalid_link(retry_url=url_for("account.recover"))
    audit.record("user.password-reset", actor=user, target_user_id=user.id, ip_address=client_ip())
    flash("Your password has been changed. Every other session has been signed out.", "success")
    if user_has_2fa(user.id):
        # The second factor still applies: sign in with the new password.
        db.session.commit()
        return no_referrer(see_other(url_for("auth.login")))
    sign_in(user)
    db.session.commit()
    return no_referrer(see_other(landing_url(user)))
