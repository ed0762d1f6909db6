"""A shareable invite link: one URL for many people, with a use limit, an expiry, allowed email domains
and, optionally, managers' approval of each join."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.orgs.models import Organization


class InviteLink(db.Model):  # type: ignore[name-defined,misc]
    """Only the SHA-256 of the link's token is stored; the URL is shown once, at creation."""

    __tablename__ = "invite_link"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), index=True
    )
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(32), default="member")
    max_uses: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None: no limit
    uses: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    allowed_domains: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty: any address
    require_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    created_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user.id", ondelete="SET NULL"), nullable=True
    )
    date_created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()

    def state(self, now: datetime | None = None) -> str:
        """``active``, ``revoked``, ``expired`` or ``used up`` (the list's State column)."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at <= (now or utcnow()):
            return "expired"
        if self.max_uses is not None and self.uses >= self.max_uses:
            return "used up"
        return "active"

    @property
    def is_live(self) -> bool:
        return self.state() == "active"

    def domain_allowed(self, email: str) -> bool:
        """Domains match exactly (no subdomains); no domains means any address."""
        if not self.allowed_domains:
            return True
        domain = email.strip().lower().rpartition("@")[2]
        return domain in self.allowed_domains


class InviteLinkRequest(db.Model):  # type: ignore[name-defined,misc]
    """A join request filed through a link that requires approval: the pending ``organization_member``
    row (``requested_to_join``, listed with the other requests) and the account that asked. Approving it
    makes that account a member; the row goes with the request."""

    __tablename__ = "invite_link_request"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    member_id: Mapped[int] = mapped_column(
        ForeignKey("organization_member.id", ondelete="CASCADE"), unique=True
    )
    link_id: Mapped[int | None] = mapped_column(
        ForeignKey("invite_link.id", ondelete="SET NULL"), nullable=True, index=True
    )
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), index=True)
    date_created: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship()
