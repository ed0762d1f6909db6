"""Account self-service rules: reset a forgotten password, confirm and change the email address.

Plain arguments, no ``request``, no commit: the view commits once. Mail goes out after that commit
(``onboarding.outbox.mail.queue_email``).
"""

from __future__ import annotations

import logging
from typing import Any

from flask import current_app
from sqlalchemy import select

from onboarding import ratelimit
from onboarding.accounts import service as accounts
from onboarding.accounts.models import User, UserEmail
from onboarding.outbox import mail
from onboarding.selfservice import tokens
from onboarding.selfservice.models import AccountToken, TokenPurpose

log = logging.getLogger(__name__)

RECOVER_THROTTLED = "You have made too many password reset requests. Please try again later."
RESEND_THROTTLED = "You have asked for too many confirmation emails. Please try again later."


def absolute(path: str) -> str:
    """Links in emails use the configured base URL, never the Host header."""
    return f"{current_app.config['BASE_URL'] or ''}{path}"


def _recover_limits() -> tuple[ratelimit.Limit, ratelimit.Limit]:
    cfg = current_app.config
    window = cfg["RECOVER_WINDOW"]
    return (
        ratelimit.Limit("recover:email", cfg["RECOVER_PER_EMAIL"], window),
        ratelimit.Limit("recover:ip", cfg["RECOVER_PER_IP"], window),
    )


def recover_retry_after(email: str, ip: str | None) -> int:
    """Seconds to wait when reset requests for this email or IP reached their limit; 0 otherwise.

    Counts this request when it is allowed, for known and unknown addresses alike.
    """
    by_email, by_ip = _recover_limits()
    normalized = accounts.normalize_email(email)
    waits = [ratelimit.retry_after(by_email, normalized)] if normalized else []
    if ip:
        waits.append(ratelimit.retry_after(by_ip, ip))
    wait = max(waits, default=0)
    if not wait:
        if normalized:
            ratelimit.hit(by_email, normalized)
        if ip:
            ratelimit.hit(by_ip, ip)
    return wait


def link(endpoint: str, **values: Any) -> str:
    """An absolute link for an email: the configured base URL and the route's path.

    Built from the URL map, so it also works in a job, where there is no request (pushing a test
    request context there would run the request teardown, which rolls the session back).
    """
    adapter = current_app.url_map.bind("localhost", script_name="/")
    return absolute(adapter.build(endpoint, values))


PASSWORD_RESET = "password_reset"  # the outbox category of a forgotten-password request


def queue_password_reset(email: str) -> None:
    """Write the request to the outbox, in the caller's transaction; the same work for every address.

    Looking the account up, making the token and rendering the mail happen when the outbox delivers it
    (``onboarding.outbox.receivers``), so neither the answer nor its timing tells whether the account
    exists; and like every email it survives Redis being unreachable or a worker dying.
    """
    from onboarding.outbox.service import schedule

    schedule(PASSWORD_RESET, {"email": accounts.normalize_email(email)})


def send_password_reset(email: str) -> User | None:
    """Email a reset link to the active account with ``email``, if there is one; returns that user.

    Runs in the outbox delivery; the caller commits (the mail is queued in that transaction).
    """
    user = accounts.get_user_by_email(email)
    if user is None or not user.is_active:
        return None
    lifetime = current_app.config["PASSWORD_RESET_EXPIRY_SECONDS"]
    raw = tokens.issue(user, TokenPurpose.RESET_PASSWORD, email=user.email, lifetime=lifetime)
    mail.queue_email(
        user.email,
        "password_reset",
        user=user,
        link=link("account.reset", user_id=user.id, token=raw),
        hours=lifetime // 3600,
    )
    return user


def reset_password(token: AccountToken, password: str) -> User | None:
    """Spend ``token``, set the new password and end every session of the user.

    Returns None when the token was spent by a simultaneous request.
    """
    if not tokens.spend(token):
        return None
    user = token.user
    accounts.set_password(user, password)
    tokens.revoke_all(user, TokenPurpose.RESET_PASSWORD)
    accounts.end_other_sessions(user)
    return user


# --- email confirmation --------------------------------------------------------------------------


def primary_email(user: User) -> UserEmail | None:
    from onboarding.extensions import db

    return db.session.scalar(
        select(UserEmail).where(UserEmail.user_id == user.id, UserEmail.email == user.email)
    )


def is_verified(user: User) -> bool:
    row = primary_email(user)
    return bool(row and row.is_verified)


def send_confirmation(user: User, *, is_new_user: bool = False) -> None:
    """Email a link that confirms the account's current address."""

    lifetime = current_app.config["EMAIL_CONFIRM_EXPIRY_SECONDS"]
    raw = tokens.issue(user, TokenPurpose.CONFIRM_EMAIL, email=user.email, lifetime=lifetime)
    mail.queue_email(
        user.email,
        "confirm_email",
        user=user,
        is_new_user=is_new_user,
        link=link("account.confirm_email", user_id=user.id, token=raw),
    )


def resend_retry_after(user: User) -> int:
    cfg = current_app.config
    limit = ratelimit.Limit("confirm:resend", cfg["CONFIRM_RESEND_PER_USER"], cfg["CONFIRM_RESEND_WINDOW"])
    wait = ratelimit.retry_after(limit, str(user.id))
    if not wait:
        ratelimit.hit(limit, str(user.id))
    return wait


def confirm_email(token: AccountToken) -> User | None:
    """Spend ``token`` and mark the address it was sent to as verified (None if spent meanwhile)."""
    from onboarding.extensions import db

    if not tokens.spend(token):
        return None
    user = token.user
    row = primary_email(user)
    if row is None:
        row = UserEmail(user_id=user.id, email=user.email)
        db.session.add(row)
    row.is_verified = True
    tokens.revoke_all(user, TokenPurpose.CONFIRM_EMAIL)
    return user


# --- email change --------------------------------------------------------------------------------


class EmailChangeError(Exception):
    """The new address cannot be taken; the message is meant for the person."""


def request_email_change(user: User, new_email: str) -> None:
    """Email a confirmation link to ``new_email`` and a notice to the current address.

    Nothing changes until the link is followed. Raises :class:`EmailChangeError`.
    """

    new_email = accounts.normalize_email(new_email)
    if new_email == user.email:
        raise EmailChangeError("This is already your email address.")
    if accounts.get_user_by_email(new_email) is not None:
        raise EmailChangeError(accounts.EMAIL_TAKEN)
    lifetime = current_app.config["EMAIL_CONFIRM_EXPIRY_SECONDS"]
    tokens.revoke_all(user, TokenPurpose.CHANGE_EMAIL)  # only the newest request counts
    raw = tokens.issue(user, TokenPurpose.CHANGE_EMAIL, email=new_email, lifetime=lifetime)
    mail.queue_email(
        new_email,
        "change_email_confirm",
        user=user,
        new_email=new_email,
        link=link("account.change_email", user_id=user.id, token=raw),
    )
    mail.queue_email(user.email, "change_email_notice", user=user, new_email=new_email)


def change_email(token: AccountToken) -> tuple[User, str] | None:
    """Spend ``token`` and make its address the account's (verified). Returns (user, old address).

    Raises :class:`EmailChangeError` if another account took the address meanwhile; None if the token
    was spent by a simultaneous request.
    """
    from onboarding.extensions import db

    user = token.user
    if accounts.get_user_by_email(token.email) is not None:
        raise EmailChangeError(accounts.EMAIL_TAKEN)
    if not tokens.spend(token):
        return None
    old = user.email
    old_row = primary_email(user)
    if old_row is not None:
        db.session.delete(old_row)
    db.session.flush()
    user.email = token.email
    existing = db.session.scalar(
        select(UserEmail).where(UserEmail.user_id == user.id, UserEmail.email == token.email)
    )
    if existing is None:
        db.session.add(UserEmail(user_id=user.id, email=token.email, is_verified=True))
    else:
        existing.is_verified = True
    # Links sent to the old address no longer belong to this account.
    for purpose in (TokenPurpose.RESET_PASSWORD, TokenPurpose.CONFIRM_EMAIL, TokenPurpose.CHANGE_EMAIL):
        tokens.revoke_all(user, purpose)
    return user, old
