"""The link kept in the session while its visitor registers or signs in (the only module that knows the
key). Registering through a live link is allowed even when registration is closed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import session

if TYPE_CHECKING:  # a leaf: auth imports it
    from onboarding.invitelinks.models import InviteLink

_TOKEN = "join_link_token"
KEYS = (_TOKEN,)


def remember(raw_token: str) -> None:
    session[_TOKEN] = raw_token


def pending_token() -> str | None:
    token = session.get(_TOKEN)
    return str(token) if token else None


def pending_link() -> InviteLink | None:
    from onboarding.invitelinks.service import live

    token = pending_token()
    return live(token) if token else None


def allows_registration() -> bool:
    return pending_link() is not None


def forget() -> None:
    session.pop(_TOKEN, None)


def carried() -> dict[str, str]:
    """What a session rotation (sign-in) carries over."""
    return {key: session[key] for key in KEYS if key in session}
