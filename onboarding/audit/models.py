"""The audit log: who did what, to what, where and when (UTC)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow


class AuditLogEntry(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "audit_log_entry"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int | None] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), nullable=True, index=True
    )
    event: Mapped[str] = mapped_column(String(64), index=True)  # API name, e.g. "member.invite"
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    actor_label: Mapped[str | None] = mapped_column(String(254), nullable=True)
    # Set when the actor's account was deleted: the entry stays, the actor is shown as "Deleted user".
    actor_deleted: Mapped[bool | None] = mapped_column(Boolean, nullable=True, default=False)
    target_object: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    target_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    ip_address: Mapped[str | None] = mapped_column(String(45), nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    datetime: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)

    actor: Mapped[User | None] = relationship(foreign_keys=[actor_id])
    target_user: Mapped[User | None] = relationship(foreign_keys=[target_user_id])

    @property
    def actor_name(self) -> str | None:
        """Who acted, as pages show it: "Deleted user" once their account is gone."""
        if self.actor_deleted:
            return "Deleted user"
        return self.actor_label
