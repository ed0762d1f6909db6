"""Per-organization options (key → JSON value), created or updated in place."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db, utcnow


class OrganizationOption(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization_option"
    __table_args__ = (UniqueConstraint("organization_id", "key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    key: Mapped[str] = mapped_column(String(64))
    value: Mapped[Any] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)


_MISSING = object()


def get_row(organization_id: int, key: str) -> OrganizationOption | None:
    return db.session.scalar(
        select(OrganizationOption).where(
            OrganizationOption.organization_id == organization_id, OrganizationOption.key == key
        )
    )


def get_value(organization_id: int, key: str, default: Any = None) -> Any:
    row = get_row(organization_id, key)
    return default if row is None else row.value


def set_value(organization_id: int, key: str, value: Any) -> OrganizationOption:
    """Create or update the option (not committed)."""
    row = get_row(organization_id, key)
    if row is None:
        row = OrganizationOption(organization_id=organization_id, key=key, value=value)
        db.session.add(row)
    else:
        row.value = value
    return row


def unset_value(organization_id: int, key: str) -> None:
    row = get_row(organization_id, key)
    if row is not None:
        db.session.delete(row)
