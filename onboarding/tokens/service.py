"""Creating, checking and revoking personal API tokens. Services never commit."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update

from onboarding.accounts.models import User
from onboarding.database import write_intent
from onboarding.extensions import db, utcnow
from onboarding.tokens.models import ApiToken

# Sentry's scope names. A write scope includes the matching read scope; an admin scope both.
SCOPES: dict[str, str] = {
    "org:read": "Read organizations",
    "org:write": "Change organizations",
    "org:admin": "Delete organizations",
    "member:read": "Read members and invites",
    "member:write": "Invite, change and remove members",
    "user:write": "Change your own account: avatar, API tokens, deletion",
}
TOKEN_PREFIX = "onb_"
MAX_TOKENS_PER_USER = 50
LAST_USED_RESOLUTION = timedelta(seconds=60)


class TokenError(ValueError):
    """The request to create a token cannot be met; the message says why."""


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def effective_scopes(scopes: list[str]) -> set[str]:
    result = set(scopes)
    for scope in scopes:
        if scope.endswith(":admin"):
            result.update((scope.replace(":admin", ":write"), scope.replace(":admin", ":read")))
        elif scope.endswith(":write"):
            result.add(scope.replace(":write", ":read"))
    return result


def has_scopes(token: ApiToken, *needed: str) -> bool:
    return set(needed) <= effective_scopes(token.scopes)


def create_token(user: User, name: str, scopes: list[str]) -> tuple[ApiToken, str]:
    """Add a token for ``user``; returns the row and the raw token (shown once, never stored).

    Raises :class:`TokenError` for an empty name, unknown or missing scopes, or too many tokens.
    """
    name = " ".join((name or "").split())
    if not name:
        raise TokenError("Give the token a name.")
    if len(name) > 64:
        raise TokenError("The name can be at most 64 characters.")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise TokenError(f"Unknown scope: {', '.join(unknown)}.")
    if not scopes:
        raise TokenError("Choose at least one scope.")
    count = db.session.scalar(select(db.func.count()).where(ApiToken.user_id == user.id)) or 0
    if count >= MAX_TOKENS_PER_USER:
        raise TokenError(f"You can have at most {MAX_TOKENS_PER_USER} tokens; revoke one first.")
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)  # 256 random bits
    token = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=hash_token(raw),
        prefix=raw[:12],
        scope_list=" ".join(s for s in SCOPES if s in scopes),
    )
    db.session.add(token)
    db.session.flush()
    return token, raw


def tokens_for(user: User) -> list[ApiToken]:
    return list(
        db.session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == user.id)
            .order_by(ApiToken.date_created.desc(), ApiToken.id.desc())
        )
    )


def revoke(user: User, token_id: int) -> bool:
    """Delete one of ``user``'s tokens; False when it is not theirs or does not exist."""
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id:
        return False
    db.session.delete(token)
    return True


def authenticate(raw: str) -> ApiToken | None:
    """The token for ``raw`` if it exists and its user is active; records its use (once a minute).

    The last-used time is written in its own short transaction, so a read-only request does not hold
    a write lock for it.
    """
    if not raw.startswith(TOKEN_PREFIX) or len(raw) > 200:
        return None
    token = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_token(raw)))
    if token is None or not token.user.is_active:
        return None
    now = utcnow()
    if token.last_used_at is None or token.last_used_at < now - LAST_USED_RESOLUTION:
        _touch(token.id, now)
    return token


def _touch(token_id: int, now: datetime) -> None:
    db.session.rollback()  # end our read so that (SQLite) the short write below is not queued behind it
    with write_intent(True), db.engine.begin() as conn:
        conn.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id)
            .where((ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - LAST_USED_RESOLUTION))
            .values(last_used_at=now)
        )
