"""Users and their server-side sessions. Nothing here commits; callers commit once."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update

from onboarding.accounts.models import User, UserEmail, UserSession
from onboarding.database import write_intent
from onboarding.extensions import db, utcnow
from onboarding.passwords import hash_password, needs_rehash, verify_password


class AccountError(Exception):
    """A rule refused the change; the message is meant for the person."""


EMAIL_TAKEN = "An account is already registered with that email address."


def normalize_email(email: str | None) -> str:
    """Strip the characters Sentry strips (space, tab, CR, LF, NUL) and lower-case."""
    return (email or "").strip(" \n\t\r\0").lower()


def get_user_by_email(email: str) -> User | None:
    normalized = normalize_email(email)
    if not normalized:
        return None
    # Every write stores the normalised (lower-cased) address, so plain equality finds it through the
    # unique index; lower(email) would scan the table on PostgreSQL.
    return db.session.scalar(select(User).where(User.email == normalized))


def create_user(
    email: str,
    *,
    name: str = "",
    password: str | None = None,
    is_superuser: bool = False,
    is_staff: bool = False,
    verified: bool = False,
    password_hash: str | None = None,
) -> User:
    """Add a user and its primary email row. Raises :class:`AccountError` if the email is taken.

    ``password_hash`` (from :func:`onboarding.passwords.hash_password`, computed before the write
    transaction began) takes the place of ``password``, so no write lock is held while hashing."""
    normalized = normalize_email(email)
    if get_user_by_email(normalized) is not None:
        raise AccountError(EMAIL_TAKEN)
    user = User(
        email=normalized,
        name=name.strip(),
        is_superuser=is_superuser,
        is_staff=is_staff,
        is_active_flag=True,
        date_joined=utcnow(),
    )
    if password_hash:
        user.password_hash, user.last_password_change = password_hash, utcnow()
    elif password:
        set_password(user, password)
    user.emails.append(UserEmail(email=normalized, is_verified=verified))
    db.session.add(user)
    db.session.flush()
    return user


def set_password(user: User, password: str | None) -> None:
    user.password_hash = hash_password(password) if password else None
    user.last_password_change = utcnow()


def authenticate(email: str, password: str) -> User | None:
    """The user whose email and password match, or None. Always hashes once, found or not.

    Disabled users are returned too: the caller tells them so (only after the right password).
    A hash made with older parameters is replaced with one made with the current ones.

    The slow part runs with no transaction open: the stored hash is read in a read-only transaction
    that ends before hashing, so a flood of sign-in attempts never holds SQLite's write lock (notes §5).
    Call it before anything else in the request's transaction; the user is loaded again afterwards.
    """
    with write_intent(False):
        db.session.rollback()
        found = get_user_by_email(email)
        user_id, stored = (found.id, found.password_hash) if found is not None else (None, None)
        db.session.rollback()
    if user_id is None or not stored:
        verify_password(None, password)
        return None
    if not verify_password(stored, password):
        return None
    fresh_hash = hash_password(password) if needs_rehash(stored) else None
    user = db.session.get(User, user_id)  # the request's own transaction starts here
    if user is not None and fresh_hash is not None and user.password_hash == stored:
        user.password_hash = fresh_hash
    return user


# --- server-side sessions -------------------------------------------------------------------


def _hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def start_session(user: User, *, ip_address: str | None, user_agent: str | None) -> str:
    """Record a new signed-in browser for ``user``; returns the key the cookie will carry."""
    key = secrets.token_urlsafe(32)
    now = utcnow()
    lifetime = timedelta(seconds=current_app.config["SESSION_LIFETIME_SECONDS"])
    db.session.add(
        UserSession(
            key_hash=_hash_key(key),
            user_id=user.id,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            ip_address=ip_address,
            user_agent=(user_agent or "")[:255] or None,
        )
    )
    user.last_login = now
    user.session_key = key  # type: ignore[assignment]
    return key


def load_session_user(key: str) -> User | None:
    """The active user of a live session, or None (ended, expired, disabled, or unknown key)."""
    if not key:
        return None
    row = db.session.execute(
        select(UserSession, User)
        .join(User, User.id == UserSession.user_id)
        .where(UserSession.key_hash == _hash_key(key))
    ).first()
    if row is None:
        return None
    record, user = row
    if record.expires_at <= utcnow() or not user.is_active:
        return None
    user.session_key = key  # type: ignore[assignment]
    user.session_record = record  # type: ignore[attr-defined]
    return user


def touch_session(key: str) -> None:
    """Move a session's last-seen time forward, at most once per SESSION_TOUCH_SECONDS.

    Runs in its own short transaction so a read-only request does not have to hold a write lock.
    """
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])
    with db.engine.begin() as conn:
        conn.execute(
            update(UserSession)
            .where(UserSession.key_hash == _hash_key(key), UserSession.last_seen_at < stale)
            .values(last_seen_at=now)
        )


def end_session(key: str) -> None:
    db.session.execute(delete(UserSession).where(UserSession.key_hash == _hash_key(key)))


def end_other_sessions(user: User, keep_key: str | None = None) -> int:
    stmt = delete(UserSession).where(UserSession.user_id == user.id)
    if keep_key:
        stmt = stmt.where(UserSession.key_hash != _hash_key(keep_key))
    return db.session.execute(stmt).rowcount or 0  # type: ignore[attr-defined]
