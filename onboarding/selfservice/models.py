"""One-time links sent by email: password reset, email confirmation, email change.

Only the SHA-256 of the random token is stored. A token is spent with one conditional UPDATE, so two
simultaneous uses cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow


class TokenPurpose:
    RESET_PASSWORD = "reset-password"
    CONFIRM_EMAIL = "confirm-email"
    CHANGE_EMAIL = "change-email"


class AccountToken(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "account_token"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The address the link was sent to (confirm, change) or the account's address (reset).
    email: Mapped[str] = mapped_column(String(254))
    # Reset links: SHA-256 of the password hash at issue time, so a changed password kills the link.
    binding: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    user: Mapped[User] = relationship()
