"""Sign-in throttling and registration rules, without HTTP."""

from __future__ import annotations

from flask import current_app

from onboarding import ratelimit
from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.orgs import service as orgs

THROTTLED = "You have made too many login attempts. Please try again later."
REGISTER_THROTTLED = "You have made too many registration attempts. Please try again later."
INVALID_LOGIN = "Please enter a correct email and password. Note that the password is case-sensitive."
DISABLED = "This account has been disabled. Contact an administrator if you think this is a mistake."


def _limits() -> tuple[ratelimit.Limit, ratelimit.Limit]:
    cfg = current_app.config
    window = cfg["LOGIN_FAILURE_WINDOW"]
    return (
        ratelimit.Limit("login:email", cfg["LOGIN_FAILURES_PER_EMAIL"], window),
        ratelimit.Limit("login:ip", cfg["LOGIN_FAILURES_PER_IP"], window),
    )


def login_retry_after(email: str, ip: str | None) -> int:
    """Seconds to wait when failed sign-ins for this email or IP reached their limit; 0 otherwise."""
    return ratelimit.retry_after_any(_subjects(email, ip))


def record_login_failure(email: str, ip: str | None) -> None:
    ratelimit.hit_all(_subjects(email, ip))


def _subjects(email: str, ip: str | None) -> list[tuple[ratelimit.Limit, str]]:
    by_email, by_ip = _limits()
    checks = [(by_email, accounts.normalize_email(email))] if email else []
    if ip:
        checks.append((by_ip, ip))
    return checks


def login_page_retry_after(ip: str | None) -> int:
    """Count one view of the sign-in page for ``ip``; seconds to wait when it is over the per-second limit."""
    if not ip:
        return 0
    limit = ratelimit.Limit("login-page:ip", current_app.config["LOGIN_PAGE_VIEWS_PER_SECOND"], 1)
    return 1 if ratelimit.hit(limit, ip) > limit.limit else 0


def registration_retry_after(ip: str | None) -> int:
    cfg = current_app.config
    limit = ratelimit.Limit("register:ip", cfg["REGISTRATIONS_PER_IP"], cfg["REGISTRATION_WINDOW"])
    if not ip:
        return 0
    wait = ratelimit.retry_after(limit, ip)
    if not wait:
        ratelimit.hit(limit, ip)
    return wait


def register_user(
    name: str, email: str, password_hash: str, *, verified: bool, join_default_org: bool
) -> User:
    """Create the account; in single-organization mode (and with no invite) join the default org.
    Raises :class:`accounts.AccountError` when the email was taken meanwhile."""
    user = accounts.create_user(email, name=name, password_hash=password_hash, verified=verified)
    if join_default_org and current_app.config["SINGLE_ORGANIZATION"]:
        org = orgs.ensure_default_organization()
        if org is not None:
            orgs.add_member(org, user)
    return user
