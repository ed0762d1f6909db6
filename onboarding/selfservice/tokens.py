"""Issuing and spending one-time account tokens. Nothing here commits; callers commit once."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.selfservice.models import AccountToken, TokenPurpose
from onboarding.web.converters import bounded_id

# token_urlsafe(32): 256 random bits, 43 URL-safe characters. Anything else is refused before any lookup.
_TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def password_binding(user: User) -> str:
    """A fingerprint of the current password hash: a reset link dies when the password changes."""
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()


def issue(user: User, purpose: str, *, email: str, lifetime: int) -> str:
    """Store a new token's hash for ``user`` and return the raw token (to be emailed, never stored)."""
    raw = secrets.token_urlsafe(32)
    now = utcnow()
    db.session.add(
        AccountToken(
            user_id=user.id,
            purpose=purpose,
            token_hash=hash_token(raw),
            email=email,
            binding=password_binding(user) if purpose == TokenPurpose.RESET_PASSWORD else None,
            created_at=now,
            expires_at=now + timedelta(seconds=lifetime),
        )
    )
    return raw


def find(user_id: int | str, raw: str, purpose: str) -> AccountToken | None:
    """The live token (unused, unexpired, for this user and purpose, still bound), or None.

    Malformed, unknown, used, expired and rebound tokens all give None: the caller shows one page.
    """
    if not isinstance(raw, str) or not _TOKEN_RE.match(raw):
        return None
    uid = bounded_id(user_id)
    if uid is None:
        return None
    token = db.session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == hash_token(raw),
            AccountToken.user_id == uid,
            AccountToken.purpose == purpose,
        )
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    user = db.session.get(User, token.user_id)
    if user is None or not user.is_active:
        return None
    if purpose == TokenPurpose.RESET_PASSWORD and token.binding != password_binding(user):
        return None
    if purpose != TokenPurpose.CHANGE_EMAIL and token.email != user.email:
        return None  # the account's address changed since the link was sent
    return token


def spend(token: AccountToken) -> bool:
    """Mark ``token`` used with one conditional UPDATE; False when someone else spent it first."""
    result = db.session.execute(
        update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return (result.rowcount or 0) == 1  # type: ignore[attr-defined]


def revoke_all(user: User, purpose: str) -> None:
    """Spend every outstanding token of ``purpose`` for ``user`` (e.g. after a reset or email change)."""
    db.session.execute(
        update(AccountToken)
        .where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
