"""Captured errors: each event normalised, grouped by fingerprint into an issue, with its release and
environment in their own tables (as Sentry keeps ``Release`` and ``Environment`` beside events)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.extensions import db, utcnow


class ErrorRelease(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "error_release"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[str] = mapped_column(String(250), unique=True)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ErrorEnvironment(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "error_environment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class ErrorIssue(db.Model):  # type: ignore[name-defined,misc]
    """Events with the same fingerprint. ``times_seen`` counts them; ``notified_at`` marks the one email."""

    __tablename__ = "error_issue"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 hex of the grouping parts
    title: Mapped[str] = mapped_column(String(500))
    culprit: Mapped[str] = mapped_column(String(500), default="")
    level: Mapped[str] = mapped_column(String(16), default="error")
    first_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    times_seen: Mapped[int] = mapped_column(Integer, default=1)
    first_release_id: Mapped[int | None] = mapped_column(ForeignKey("error_release.id"), nullable=True)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    first_release: Mapped[ErrorRelease | None] = relationship()


class ErrorEvent(db.Model):  # type: ignore[name-defined,misc]
    """One captured error, normalised and scrubbed of secrets before it was stored."""

    __tablename__ = "error_event"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[str] = mapped_column(String(32), unique=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("error_issue.id", ondelete="CASCADE"), index=True)
    release_id: Mapped[int | None] = mapped_column(ForeignKey("error_release.id"), nullable=True)
    environment_id: Mapped[int | None] = mapped_column(ForeignKey("error_environment.id"), nullable=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    level: Mapped[str] = mapped_column(String(16), default="error")
    message: Mapped[str] = mapped_column(Text, default="")
    exception_type: Mapped[str] = mapped_column(String(200), default="")
    exception_value: Mapped[str] = mapped_column(Text, default="")
    request_method: Mapped[str] = mapped_column(String(16), default="")
    request_path: Mapped[str] = mapped_column(String(2000), default="")
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    job_id: Mapped[str] = mapped_column(String(100), default="")
    tags: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    frames: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)

    issue: Mapped[ErrorIssue] = relationship()
    release: Mapped[ErrorRelease | None] = relationship()
    environment: Mapped[ErrorEnvironment | None] = relationship()
