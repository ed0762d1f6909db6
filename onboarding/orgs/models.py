"""Organizations, teams, memberships (and the invites they start as), SSO providers and identities."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow


class OrgStatus(enum.IntEnum):
    ACTIVE = 0
    PENDING_DELETION = 1
    DELETION_IN_PROGRESS = 2


class OrgFlags(enum.IntFlag):
    """Bit order follows Sentry's organization flags (spec §2)."""

    ALLOW_JOINLEAVE = 1 << 0  # open membership
    ENHANCED_PRIVACY = 1 << 1
    DISABLE_SHARED_ISSUES = 1 << 2
    EARLY_ADOPTER = 1 << 3
    REQUIRE_2FA = 1 << 4
    DISABLE_NEW_VISIBILITY_FEATURES = 1 << 5
    REQUIRE_EMAIL_VERIFICATION = 1 << 6
    CODECOV_ACCESS = 1 << 7
    DISABLE_MEMBER_PROJECT_CREATION = 1 << 8
    PREVENT_SUPERUSER_ACCESS = 1 << 9
    DISABLE_MEMBER_INVITE = 1 << 10


class InviteStatus(enum.IntEnum):
    APPROVED = 0
    REQUESTED_TO_BE_INVITED = 1
    REQUESTED_TO_JOIN = 2

    @property
    def api_name(self) -> str:
        return self.name.lower()


class Organization(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    slug: Mapped[str] = mapped_column(String(50), unique=True)
    status: Mapped[int] = mapped_column(Integer, default=OrgStatus.ACTIVE)
    default_role: Mapped[str] = mapped_column(String(32), default="member")
    flags: Mapped[int] = mapped_column(Integer, default=int(OrgFlags.ALLOW_JOINLEAVE))
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    teams: Mapped[list[Team]] = relationship(back_populates="organization", order_by="Team.name")

    def has_flag(self, flag: OrgFlags) -> bool:
        return bool(self.flags & flag)

    def set_flag(self, flag: OrgFlags, on: bool) -> None:
        self.flags = (self.flags | flag) if on else (self.flags & ~flag)

    @property
    def is_active(self) -> bool:
        return self.status == OrgStatus.ACTIVE

    def audit_data(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "name": self.name,
            "status": self.status,
            "flags": self.flags,
            "default_role": self.default_role,
        }


class Team(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "team"
    __table_args__ = (UniqueConstraint("organization_id", "slug"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    slug: Mapped[str] = mapped_column(String(50))
    name: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer, default=0)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    organization: Mapped[Organization] = relationship(back_populates="teams")


class OrganizationMember(db.Model):  # type: ignore[name-defined,misc]
    """A membership, or — while ``user_id`` is empty — an invite to the address in ``email``.

    Only the SHA-256 of an invite token is stored (``token_hash``); the raw token exists in the
    emailed link alone.
    """

    __tablename__ = "organization_member"
    __table_args__ = (
        UniqueConstraint("organization_id", "user_id"),
        UniqueConstraint("organization_id", "email"),
        CheckConstraint("user_id IS NOT NULL OR email IS NOT NULL", name="user_or_email"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    user_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="CASCADE"), nullable=True, index=True
    )
    email: Mapped[str | None] = mapped_column(String(254), nullable=True)
    role: Mapped[str] = mapped_column(String(32), default="member")
    flags: Mapped[int] = mapped_column(Integer, default=0)
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True, nullable=True)
    token_expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    has_global_access: Mapped[bool] = mapped_column(Boolean, default=True)
    inviter_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    invite_status: Mapped[int] = mapped_column(Integer, default=InviteStatus.APPROVED)
    # The outbox message carrying the email with the current link (no FK: delivered messages are deleted),
    # and when the mail server took it. Both are cleared whenever a new token replaces the link.
    invite_email_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    invite_emailed_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    organization: Mapped[Organization] = relationship()
    user: Mapped[User | None] = relationship(foreign_keys=[user_id])
    inviter: Mapped[User | None] = relationship(foreign_keys=[inviter_id])
    team_links: Mapped[list[OrganizationMemberTeam]] = relationship(
        back_populates="member", cascade="all, delete-orphan"
    )

    @property
    def is_pending(self) -> bool:
        return self.user_id is None

    @property
    def invite_approved(self) -> bool:
        return self.invite_status == InviteStatus.APPROVED

    def token_expired(self, now: datetime | None = None) -> bool:
        # No never-expiring tokens (contract): a missing expiry counts as expired.
        return self.token_expires_at is None or self.token_expires_at <= (now or utcnow())

    def get_email(self) -> str | None:
        return self.user.email if self.user is not None else self.email

    @property
    def teams(self) -> list[Team]:
        return [link.team for link in self.team_links if link.is_active]


class OrganizationMemberTeam(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization_member_team"
    __table_args__ = (UniqueConstraint("team_id", "member_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("team.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("organization_member.id", ondelete="CASCADE"), index=True
    )
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    role: Mapped[str | None] = mapped_column(String(32), nullable=True)

    team: Mapped[Team] = relationship()
    member: Mapped[OrganizationMember] = relationship(back_populates="team_links")


class AuthProvider(db.Model):  # type: ignore[name-defined,misc]
    """An organization's single sign-on provider (filled in by the SSO feature)."""

    __tablename__ = "auth_provider"

    ALLOW_UNLINKED = 1 << 0  # SSO optional: members without a linked identity keep access

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), unique=True
    )
    provider: Mapped[str] = mapped_column(String(128))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    default_role: Mapped[str] = mapped_column(String(32), default="member")
    flags: Mapped[int] = mapped_column(Integer, default=0)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_sync: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    organization: Mapped[Organization] = relationship()

    @property
    def requires_sso(self) -> bool:
        return not (self.flags & self.ALLOW_UNLINKED)


class AuthIdentity(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "auth_identity"
    __table_args__ = (
        UniqueConstraint("auth_provider_id", "ident"),
        UniqueConstraint("auth_provider_id", "user_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    auth_provider_id: Mapped[int] = mapped_column(ForeignKey("auth_provider.id", ondelete="CASCADE"))
    ident: Mapped[str] = mapped_column(String(128))
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_verified: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    date_added: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
