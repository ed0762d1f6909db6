"""The outbox: messages written in the same transaction as the change they announce."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db, utcnow


class OutboxMessage(db.Model):  # type: ignore[name-defined,misc]
    """One signal or email to deliver. Deleted once every receiver has applied it."""

    __tablename__ = "outbox_message"
    # Ids are never reused (SQLite would reuse the highest id once deleted): receipts name messages by id.
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    category: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scheduled_from: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    scheduled_for: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)


class OutboxReceipt(db.Model):  # type: ignore[name-defined,misc]
    """Proof that ``receiver`` applied message ``message_id``: written with the receiver's own effect."""

    __tablename__ = "outbox_receipt"
    __table_args__ = (UniqueConstraint("message_id", "receiver"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    message_id: Mapped[int] = mapped_column(Integer, index=True)  # no FK: the message row is deleted after
    receiver: Mapped[str] = mapped_column(String(128))
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
