"""The links that confirm an email address or finish changing it (GET shows a button; POST acts)."""

from __future__ import annotations

from flask import flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.selfservice import bp, tokens
from onboarding.selfservice import service as selfservice
from onboarding.selfservice.models import TokenPurpose
from onboarding.selfservice.recover_views import invalid_link, no_referrer
from onboarding.web.client import client_ip
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import render, see_other


@bp.route("/confirm-email/<user_id>/<token>/", methods=["GET", "POST"])
def confirm_email(user_id: str, token: str) -> Response:
    """GET shows a button; the POST confirms (no state change on GET)."""
    record = tokens.find(user_id, token, TokenPurpose.CONFIRM_EMAIL)
    if record is None:
        return invalid_link(retry_url=url_for("account.settings"))
    action = url_for("account.confirm_email", user_id=record.user_id, token=token)
    if request.method == "GET":
        return no_referrer(
            render(
                "account/confirm_email.html",
                action=action,
                email=record.email,
                change=False,
                form=EmptyForm(),
            )
        )
    EmptyForm()
    user = selfservice.confirm_email(record)
    if user is None:
        db.session.rollback()
        return invalid_link(retry_url=url_for("account.settings"))
    audit.record(
        "user.email.confirm",
        actor=user,
        target_user_id=user.id,
        ip_address=client_ip(),
        data={"email": record.email},
    )
    db.session.commit()
    flash(f"Thank you. {record.email} is confirmed.", "success")
    return no_referrer(see_other(_after_link()))


@bp.route("/change-email/<user_id>/<token>/", methods=["GET", "POST"])
def change_email(user_id: str, token: str) -> Response:
    record = tokens.find(user_id, token, TokenPurpose.CHANGE_EMAIL)
    if record is None:
        return invalid_link(retry_url=url_for("account.settings"))
    action = url_for("account.change_email", user_id=record.user_id, token=token)
    if request.method == "GET":
        return no_referrer(
            render(
                "account/confirm_email.html", action=action, email=record.email, change=True, form=EmptyForm()
            )
        )
    new_email = record.email
    try:
        result = selfservice.change_email(record)
    except selfservice.EmailChangeError as exc:
        db.session.rollback()
        resp = render("account/link_invalid.html", status=409, message=str(exc), retry_url=None)
        return no_referrer(resp)
    if result is None:
        db.session.rollback()
        return invalid_link(retry_url=url_for("account.settings"))
    user, old = result
    audit.record(
        "user.email.change",
        actor=user,
        target_user_id=user.id,
        ip_address=client_ip(),
        data={"old_email": old, "new_email": new_email},
    )
    db.session.commit()
    flash(f"Your email address is now {new_email}.", "success")
    return no_referrer(see_other(_after_link()))


def _after_link() -> str:
    if current_user.is_authenticated:
        return url_for("account.settings")
    return url_for("auth.login")
