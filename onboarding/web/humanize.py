"""How pages write times and recorded values for people: template filters every page may use.

- ``when(dt)``: ``<time>`` with a relative text ("3 minutes ago", "in 6 days") and the exact UTC time in
  its ``title`` (shown on hover) and ``datetime``.
- ``words(value)``: a recorded value in words, never a Python repr (``None`` → "none", ``[]`` → "none",
  ``True`` → "yes", lists joined by commas).
- ``field_words(key)``: ``allowJoinRequests`` / ``is_active`` → "allow join requests" / "is active".
- ``event_words(event)``: ``member.invite`` → "Invited a member" (unknown events keep their code).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from markupsafe import Markup

EVENTS = {
    "user.login.success": "Signed in",
    "user.login.failure": "Failed to sign in",
    "user.logout": "Signed out",
    "member.invite": "Invited someone",
    "member.reinvite": "Sent an invite again",
    "member.revoke-invite": "Revoked an invite",
    "member.accept-invite": "Accepted an invite",
    "member.decline-invite": "Declined an invite",
    "member.remove-expired-invite": "Removed an expired invite",
    "member.invite-link": "Copied a new invite link",
    "member.join-via-link": "Joined through an invite link",
    "member.add": "Added a member",
    "member.edit": "Changed a member",
    "member.remove": "Removed a member",
    "member.leave": "Left the organization",
    "member.join-team": "Joined a team",
    "member.leave-team": "Left a team",
    "member.pending": "Membership put on hold",
    "invite-request.create": "Asked for an invite",
    "invite-request.remove": "Turned down an invite request",
    "invite-request.renew": "Asked for a new invite link",
    "join-request.create": "Asked to join",
    "invite-link.create": "Created an invite link",
    "invite-link.revoke": "Revoked an invite link",
    "org.add": "Created the organization",
    "org.edit": "Changed the organization's settings",
    "org.remove": "Deleted an organization",
    "team.create": "Created a team",
    "team.edit": "Changed a team",
    "team.remove": "Deleted a team",
    "sso.enable": "Turned on single sign-on",
    "sso.edit": "Changed single sign-on",
    "sso.disable": "Turned off single sign-on",
    "sso.link": "Linked a single sign-on identity",
    "user.delete": "Deleted an account",
    "user.add-email": "Added an email address",
    "user.superuser.grant": "Made a superuser",
    "user.superuser.revoke": "Removed a superuser",
    "user.disable": "Disabled an account",
    "user.enable": "Enabled an account",
}


def _as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def relative(dt: datetime, now: datetime | None = None) -> str:
    seconds = int((_as_utc(dt) - (now or datetime.now(UTC))).total_seconds())
    future, span = seconds > 0, abs(seconds)
    if span < 45:
        return "in a few seconds" if future else "just now"
    for unit, size in (
        ("year", 31_536_000),
        ("month", 2_592_000),
        ("day", 86_400),
        ("hour", 3600),
        ("minute", 60),
    ):
        if span >= size * 0.95 or unit == "minute":
            count = max(1, round(span / size))
            text = f"{count} {unit}{'' if count == 1 else 's'}"
            return f"in {text}" if future else f"{text} ago"
    raise AssertionError("unreachable")


def when(dt: datetime | None, empty: str = "—") -> Markup:
    if dt is None:
        return Markup("{}").format(empty)
    exact = _as_utc(dt)
    return Markup('<time datetime="{}" title="{} UTC">{}</time>').format(
        exact.strftime("%Y-%m-%dT%H:%M:%SZ"), exact.strftime("%Y-%m-%d %H:%M:%S"), relative(exact)
    )


def words(value: Any) -> str:
    if value is None or value == [] or value == {} or value == "":
        return "none"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set)):
        return ", ".join(words(v) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{field_words(k)}: {words(v)}" for k, v in value.items())
    text = str(value)
    # Values recorded as "from X to Y" by older code may carry Python's None/True/False/[].
    return re.sub(r"\b(None|\[\])(?=$|\s)", "none", text).replace("True", "yes").replace("False", "no")


def field_words(key: str) -> str:
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", str(key)).replace("_", " ")
    return spaced.lower().replace("2 f a", "2FA").replace("2fa", "two-factor")


def event_words(event: str) -> str:
    return EVENTS.get(event, event)


def init_app(app: Flask) -> None:
    app.add_template_filter(when, "when")
    app.add_template_filter(words, "words")
    app.add_template_filter(field_words, "field_words")
    app.add_template_filter(event_words, "event_words")


def wait_sentence(seconds: int) -> str:
    """ " You can try again in 45 seconds." — added after a throttle message."""
    seconds = max(1, int(seconds))
    if seconds < 90:
        span = f"{seconds} second{'' if seconds == 1 else 's'}"
    else:
        minutes = round(seconds / 60)
        span = f"{minutes} minute{'' if minutes == 1 else 's'}"
    return f" You can try again in {span}."
