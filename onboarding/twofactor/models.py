"""A user's second factor: one TOTP authenticator and its one-time recovery codes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.extensions import db, utcnow


class Authenticator(db.Model):  # type: ignore[name-defined,misc]
    """A confirmed TOTP authenticator. Rows exist only once a first code has confirmed the secret.

    ``last_used_step`` is the TOTP time step (Unix time // 30) of the last accepted code: a code is
    accepted only for a later step, so an observed code cannot be replayed within its window.
    """

    __tablename__ = "authenticator"
    __table_args__ = (UniqueConstraint("user_id", "type"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    type: Mapped[str] = mapped_column(String(16), default="totp")
    secret: Mapped[str] = mapped_column(String(64))
    last_used_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    recovery_codes: Mapped[list[RecoveryCode]] = relationship(
        back_populates="authenticator", cascade="all, delete-orphan"
    )


class RecoveryCode(db.Model):  # type: ignore[name-defined,misc]
    """One single-use recovery code; only its SHA-256 is stored (the code is shown once)."""

    __tablename__ = "recovery_code"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    authenticator_id: Mapped[int] = mapped_column(
        ForeignKey("authenticator.id", ondelete="CASCADE"), index=True
    )
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    authenticator: Mapped[Authenticator] = relationship(back_populates="recovery_codes")
