"""Single-use WebAuthn challenges kept server-side with a short expiry.

The browser's session holds only a random handle per purpose; the challenge itself is a row. Taking
it deletes the row conditionally, so an answer is checked against a challenge at most once, even when
two requests race or an old session cookie is replayed.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import session
from sqlalchemy import delete, select

from onboarding import ratelimit
from onboarding.extensions import db, utcnow
from onboarding.passkeys.models import PasskeyChallenge

TTL_SECONDS = 5 * 60  # what the options tell the browser, plus nothing: expired is expired
# Challenges one client address may ask for per minute: each is a row until it expires, so this
# bounds what an anonymous client can make the server store (a sign-in page view asks for one).
PER_IP_PER_MINUTE = 30
SESSION_KEY = "_passkey_challenges"


def retry_after(ip: str | None) -> int:
    """Count one challenge asked for by ``ip``; seconds to wait when it is over the limit, else 0."""
    if not ip:
        return 0
    limit = ratelimit.Limit("passkey-challenge:ip", PER_IP_PER_MINUTE, 60)
    if ratelimit.hit(limit, ip) > limit.limit:
        return max(1, ratelimit.retry_after(limit, ip))
    return 0


def issue(purpose: str, challenge: bytes, user_id: int | None) -> None:
    """Keep ``challenge`` for ``purpose`` (one per purpose and session; a new one replaces it)."""
    from webauthn.helpers import bytes_to_base64url

    now = utcnow()
    db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.expires_at < now))
    handles = dict(session.get(SESSION_KEY) or {})
    old = handles.get(purpose)
    if isinstance(old, str):
        db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.id == old))
    handle = secrets.token_urlsafe(32)
    db.session.add(
        PasskeyChallenge(
            id=handle,
            purpose=purpose,
            challenge=bytes_to_base64url(challenge),
            user_id=user_id,
            expires_at=now + timedelta(seconds=TTL_SECONDS),
        )
    )
    handles[purpose] = handle
    session[SESSION_KEY] = handles
    db.session.flush()


def take(purpose: str) -> tuple[bytes, int | None] | None:
    """The challenge this session was given for ``purpose`` and its user, removed; None when there is
    none, it expired, or it was already taken."""
    from webauthn.helpers import base64url_to_bytes

    handles = dict(session.get(SESSION_KEY) or {})
    handle = handles.pop(purpose, None)
    session[SESSION_KEY] = handles
    if not isinstance(handle, str):
        return None
    row = db.session.execute(
        select(PasskeyChallenge.challenge, PasskeyChallenge.user_id, PasskeyChallenge.expires_at).where(
            PasskeyChallenge.id == handle, PasskeyChallenge.purpose == purpose
        )
    ).first()
    if row is None:
        return None
    gone = db.session.execute(delete(PasskeyChallenge).where(PasskeyChallenge.id == handle))
    if not gone.rowcount or row.expires_at < utcnow():  # type: ignore[attr-defined]
        return None  # another request took it first, or it is too old
    return base64url_to_bytes(row.challenge), row.user_id
