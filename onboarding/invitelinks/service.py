"""Shareable invite links: create, list, revoke and find them. Joining through one is
:mod:`.joining` (a use limit consumed atomically, a domain lock proven by email, :mod:`.proof`) and
managers' approval of what it files is :mod:`.approval`; this module re-exports them, so
``from onboarding.invitelinks import service as links`` reaches the whole feature.

Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from onboarding import ratelimit
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.invitelinks.approval import approve, link_request, reject
from onboarding.invitelinks.common import (
    Joined,
    JoinResult,
    LinkError,
    domain_refusal,
    domains_text,
    role_rule,
    verified_addresses,
)
from onboarding.invitelinks.joining import join
from onboarding.invitelinks.models import InviteLink
from onboarding.invitelinks.proof import confirm, send_confirmation
from onboarding.invites import tokens
from onboarding.orgs import roles
from onboarding.orgs.models import Organization

__all__ = [
    "Joined",
    "JoinResult",
    "LinkError",
    "approve",
    "confirm",
    "domain_refusal",
    "domains_text",
    "join",
    "link_request",
    "reject",
    "role_rule",
    "send_confirmation",
    "verified_addresses",
]

MAX_USES = 10_000
DAY = 24 * 3600
CREATE_LIMIT = ratelimit.Limit("invite-link:org", 50, DAY)
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


def parse_domains(raw: Any) -> list[str]:
    """``"example.com, Example.org"`` or a list → ``["example.com", "example.org"]``; LinkError otherwise."""
    items = raw if isinstance(raw, list) else str(raw or "").replace("\n", ",").split(",")
    domains: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise LinkError("Enter domains like example.com, separated by commas.", "allowed_domains")
        domain = item.strip().lower().lstrip("@")
        if not domain:
            continue
        if not _DOMAIN.fullmatch(domain):
            raise LinkError(f"{item.strip()[:80]} is not a domain like example.com.", "allowed_domains")
        if domain not in domains:
            domains.append(domain)
    if len(domains) > 20:
        raise LinkError("Name at most 20 domains.", "allowed_domains")
    return domains


def create(
    org: Organization,
    actor: User,
    actor_role: str,
    *,
    role: str,
    max_uses: int | None,
    expires_days: int,
    allowed_domains: list[str],
    require_approval: bool,
    ip: str | None,
) -> tuple[InviteLink, str]:
    """A new link and its raw token (shown once; only the hash is stored). Audit ``invite-link.create``.
    Managers create links for roles they may assign, at most 50 a day per organization."""
    if not roles.is_valid(role):
        raise LinkError("Choose a valid role.", "role")
    if role not in {r.id for r in roles.allowed_to_assign(actor_role)}:
        raise LinkError(
            f"You do not have permission to create a link with the role {role}.", "role", status=403
        )
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        raise LinkError(f"Enter a number of uses from 1 to {MAX_USES:,}, or leave it blank.", "max_uses")
    if not 1 <= expires_days <= 90:
        raise LinkError("A link lasts from 1 to 90 days.", "expires_days")
    wait = ratelimit.retry_after(CREATE_LIMIT, str(org.id))
    if wait:
        raise LinkError(
            "This organization has created too many invite links today. Try again later.",
            status=429,
            retry_after=wait,
        )
    ratelimit.hit(CREATE_LIMIT, str(org.id))
    raw, token_hash = tokens.new_token()
    link = InviteLink(
        organization_id=org.id,
        token_hash=token_hash,
        role=role,
        max_uses=max_uses,
        uses=0,
        expires_at=utcnow() + timedelta(days=expires_days),
        allowed_domains=allowed_domains,
        require_approval=require_approval,
        created_by_id=actor.id,
    )
    db.session.add(link)
    db.session.flush()
    audit.record(
        "invite-link.create",
        organization_id=org.id,
        actor=actor,
        target_object=link.id,
        ip_address=ip,
        data=audit_data(link),
    )
    return link, raw


def audit_data(link: InviteLink) -> dict[str, Any]:
    return {
        "id": link.id,
        "role": link.role,
        "max_uses": link.max_uses,
        "expires_at": link.expires_at.isoformat(timespec="minutes"),
        "allowed_domains": list(link.allowed_domains),
        "require_approval": link.require_approval,
    }


def revoke(link: InviteLink, actor: User, actor_role: str, *, ip: str | None) -> None:
    """Revoke ``link`` (it then gets the invalid-link page); audit ``invite-link.revoke``."""
    if link.role not in {r.id for r in roles.allowed_to_assign(actor_role)}:
        raise LinkError(f"You do not have permission to revoke a link with the role {link.role}.", status=403)
    if link.revoked_at is None:
        link.revoked_at = utcnow()
        audit.record(
            "invite-link.revoke",
            organization_id=link.organization_id,
            actor=actor,
            target_object=link.id,
            ip_address=ip,
            data=audit_data(link),
        )


def links_of(org: Organization) -> list[InviteLink]:
    return list(
        db.session.scalars(
            select(InviteLink).where(InviteLink.organization_id == org.id).order_by(InviteLink.id.desc())
        )
    )


def get(org: Organization, link_id: int) -> InviteLink | None:
    link = db.session.get(InviteLink, link_id)
    return link if link is not None and link.organization_id == org.id else None


def find(raw: str) -> InviteLink | None:
    """The link a raw token opens, live or not; None for anything else (shape checked first)."""
    if not tokens.well_formed(raw):
        return None
    return db.session.scalar(select(InviteLink).where(InviteLink.token_hash == tokens.hash_token(raw)))


def live(raw: str) -> InviteLink | None:
    link = find(raw)
    return link if link is not None and link.is_live and link.organization.is_active else None
