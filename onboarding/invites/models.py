"""Counters of invitations per organization, fed through the Redis buffer (spec §1.14)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db


class OrganizationInviteStats(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization_invite_stats"

    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), primary_key=True
    )
    invites_sent: Mapped[int] = mapped_column(Integer, default=0)
    invites_accepted: Mapped[int] = mapped_column(Integer, default=0)
    last_accepted_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
