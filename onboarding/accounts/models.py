"""Users, their email addresses, and the server-side record of each signed-in browser."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.extensions import db, utcnow


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Always stored lower-cased and stripped (see accounts.service.normalize_email), so the unique
    # index is case-insensitive in effect on SQLite and PostgreSQL alike.
    email: Mapped[str] = mapped_column(String(254), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)  # None = unusable
    is_active_flag: Mapped[bool] = mapped_column("is_active", Boolean, default=True)
    is_superuser: Mapped[bool] = mapped_column(Boolean, default=False)
    is_staff: Mapped[bool] = mapped_column(Boolean, default=False)
    date_joined: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_login: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    last_password_change: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    emails: Mapped[list[UserEmail]] = relationship(back_populates="user", cascade="all, delete-orphan")

    # Set when the user is loaded for a request: the server-side session it came with.
    session_key = None  # set per instance when loaded (str); not a column

    @property
    def is_active(self) -> bool:  # Flask-Login asks this
        return bool(self.is_active_flag)

    def get_id(self) -> str:
        # Flask-Login keeps this in the cookie; it names the session record, not the user, so that
        # ending one session refuses exactly that cookie (see accounts.service.load_session_user).
        return self.session_key or ""

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def has_usable_password(self) -> bool:
        return bool(self.password_hash)

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"


class UserEmail(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_email"
    __table_args__ = (UniqueConstraint("user_id", "email"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    is_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    validation_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    date_hash_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="emails")


class UserSession(db.Model):  # type: ignore[name-defined,misc]
    """One signed-in browser. The cookie carries a random key; only its SHA-256 is stored."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    user_agent: Mapped[str | None] = mapped_column(String(255), nullable=True)

    user: Mapped[User] = relationship()
