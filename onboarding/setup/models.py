"""Instance-wide settings kept in the database (e.g. the one-time setup token's hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db, utcnow


class SystemOption(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "system_option"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)
