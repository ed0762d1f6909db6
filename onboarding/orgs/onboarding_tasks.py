"""An organization's getting-started checklist (Sentry's OrganizationOnboardingTask)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, select, update
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.database import insert_or_ignore
from onboarding.extensions import db, utcnow


class TaskStatus(enum.IntEnum):
    PENDING = 0
    COMPLETE = 1


TASKS = {"invite_member": "Invite a member"}


class OrganizationOnboardingTask(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization_onboarding_task"
    __table_args__ = (UniqueConstraint("organization_id", "task"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    task: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=TaskStatus.PENDING)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    date_completed: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


def get_task(organization_id: int, task: str) -> OrganizationOnboardingTask | None:
    return db.session.scalar(
        select(OrganizationOnboardingTask).where(
            OrganizationOnboardingTask.organization_id == organization_id,
            OrganizationOnboardingTask.task == task,
        )
    )


def _ensure(organization_id: int, task: str, user_id: int | None) -> None:
    # Simultaneous invites into a new organization all try to create the row: the losers find it.
    insert_or_ignore(
        OrganizationOnboardingTask,
        {
            "organization_id": organization_id,
            "task": task,
            "user_id": user_id,
            "status": TaskStatus.PENDING,
            "data": {},
        },
        ["organization_id", "task"],
    )


def record_pending(organization_id: int, task: str, user_id: int | None) -> None:
    """Add the task as pending unless it exists already (not committed)."""
    _ensure(organization_id, task, user_id)


def complete(organization_id: int, task: str, data: dict[str, Any]) -> bool:
    """Mark the task complete (creating it complete if missing); False when it already was."""
    _ensure(organization_id, task, None)
    result = db.session.execute(
        update(OrganizationOnboardingTask)
        .where(
            OrganizationOnboardingTask.organization_id == organization_id,
            OrganizationOnboardingTask.task == task,
            OrganizationOnboardingTask.status != TaskStatus.COMPLETE,
        )
        .values(status=TaskStatus.COMPLETE, date_completed=utcnow(), data=data)
        .execution_options(synchronize_session="fetch")
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def checklist(organization_id: int) -> list[tuple[str, str, bool]]:
    rows = {
        r.task: r
        for r in db.session.scalars(
            select(OrganizationOnboardingTask).where(
                OrganizationOnboardingTask.organization_id == organization_id
            )
        )
    }
    return [
        (key, label, bool(rows.get(key) and rows[key].status == TaskStatus.COMPLETE))
        for key, label in TASKS.items()
    ]
