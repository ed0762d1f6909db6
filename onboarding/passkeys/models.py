"""A user's passkeys, and the WebAuthn challenges waiting for an answer."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db, utcnow


class Passkey(db.Model):  # type: ignore[name-defined,misc]
    """One registered WebAuthn credential (a discoverable one: the authenticator knows the user).

    ``credential_id`` is the credential's id in base64url (at most 1023 bytes, so 1364 characters);
    ``public_key`` the COSE key as the library returned it; ``sign_count`` the authenticator's last
    counter (an unsigned 32-bit number; 0 for authenticators that do not count); ``user_handle`` the
    random WebAuthn user id (base64url) shared by all of a user's passkeys, never their email or row id.
    """

    __tablename__ = "passkey"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    user_handle: Mapped[str] = mapped_column(String(88))
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    sign_count: Mapped[int] = mapped_column(BigInteger, default=0)
    name: Mapped[str] = mapped_column(String(64))
    transports: Mapped[str] = mapped_column(String(200), default="")
    aaguid: Mapped[str] = mapped_column(String(36), default="")
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PasskeyChallenge(db.Model):  # type: ignore[name-defined,misc]
    """A challenge handed to a browser, kept server-side until it is answered once or expires.

    ``id`` is a random handle that only the browser's session knows; ``purpose`` is ``register``,
    ``signin``, ``second`` (second factor) or ``confirm`` (a recent sign-in); ``user_id`` is who it
    was issued for (none for a sign-in, where the passkey says who it is).
    """

    __tablename__ = "passkey_challenge"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16))
    challenge: Mapped[str] = mapped_column(String(128))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), nullable=True)
    expires_at: Mapped[datetime] = mapped_column(DateTime, index=True)
