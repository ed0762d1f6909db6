"""A recent sign-in: adding or removing a passkey needs one from the last ten minutes, or the
password (or, for an account without one, a passkey) given again."""

from __future__ import annotations

import time
from datetime import timedelta

from onboarding.accounts.models import User
from onboarding.auth import service as auth_service
from onboarding.extensions import utcnow
from onboarding.passwords import verify_password
from onboarding.web.client import client_ip

RECENT_SECONDS = 10 * 60
CONFIRMED_KEY = "_confirmed_at"
CONFIRM_WITH_PASSKEY = (
    "You signed in more than 10 minutes ago. Confirm it is you with “Confirm with a passkey” first."
)
WRONG_PASSWORD = "That password is not correct."
NEED_PASSWORD = "You signed in more than 10 minutes ago: enter your password to confirm it is you."


def is_recent(user: User) -> bool:
    from flask import session

    record = getattr(user, "session_record", None)
    if record is not None and record.created_at >= utcnow() - timedelta(seconds=RECENT_SECONDS):
        return True
    confirmed = session.get(CONFIRMED_KEY)
    return isinstance(confirmed, int) and 0 <= time.time() - confirmed <= RECENT_SECONDS


def mark_confirmed() -> None:
    from flask import session

    session[CONFIRMED_KEY] = int(time.time())


def check_password(user: User, password: str | None) -> str | None:
    """None when ``password`` is the user's (throttled like sign-in), else the message to show."""
    ip = client_ip()
    if auth_service.login_retry_after(user.email, ip):
        return auth_service.THROTTLED
    if not password:
        return NEED_PASSWORD
    if not user.has_usable_password() or not verify_password(user.password_hash, password):
        auth_service.record_login_failure(user.email, ip)
        return WRONG_PASSWORD
    return None
