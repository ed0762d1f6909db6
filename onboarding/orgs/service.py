"""Organizations, slugs, memberships and teams. Nothing here commits; callers commit once."""

from __future__ import annotations

import re
import secrets

from flask import current_app
from sqlalchemy import func, select

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs import roles
from onboarding.orgs.models import (
    AuthProvider,
    InviteStatus,
    Organization,
    OrganizationMember,
    OrganizationMemberTeam,
    OrgStatus,
    Team,
)

SLUG_RE = re.compile(r"^(?![0-9]+$)[a-zA-Z0-9][a-zA-Z0-9-]*(?<!-)$")
SLUG_PATTERN_ERROR = (
    "Enter a valid slug consisting of letters, numbers, or hyphens. "
    "It cannot be entirely numeric or start/end with a hyphen."
)
# Paths and words that an organization slug must not take over.
RESERVED_SLUGS = frozenset(
    [
        "about",
        "accept",
        "account",
        "accounts",
        "admin",
        "api",
        "app",
        "apps",
        "assets",
        "auth",
        "avatar",
        "avatars",
        "billing",
        "blog",
        "docs",
        "help",
        "healthz",
        "join",
        "join-request",
        "login",
        "logout",
        "manage",
        "metrics",
        "new",
        "onboarding",
        "organization",
        "organization-avatar",
        "organizations",
        "out",
        "readyz",
        "register",
        "settings",
        "setup",
        "signup",
        "sso",
        "static",
        "support",
        "team",
        "teams",
        "user",
        "users",
        "www",
    ]
)


class SlugError(ValueError):
    pass


def validate_slug(raw: str, *, exclude_org_id: int | None = None) -> str:
    """Return the slug to store (lower-cased) or raise :class:`SlugError` with the spec's message."""
    value = raw or ""
    if any(ch.isspace() for ch in value):
        raise SlugError(f'The slug "{value}" should not contain any whitespace.')
    if len(value) > 50:
        raise SlugError("Ensure this field has no more than 50 characters.")
    if not SLUG_RE.match(value):
        raise SlugError(SLUG_PATTERN_ERROR)
    slug = value.lower()
    if len(slug) < 3:
        raise SlugError(f'This slug "{value}" is too short. Minimum of 3 characters.')
    if slug in RESERVED_SLUGS:
        raise SlugError(f'This slug "{value}" is reserved and not allowed.')
    query = select(Organization.id).where(Organization.slug == slug)
    if exclude_org_id is not None:
        query = query.where(Organization.id != exclude_org_id)
    if db.session.scalar(query) is not None:
        raise SlugError(f'The slug "{value}" is already in use.')
    return slug


def slugify(name: str) -> str:
    base = re.sub(r"[^a-z0-9-]+", "-", name.lower().replace("_", "-")).strip("-")
    base = re.sub(r"-{2,}", "-", base)[:40].strip("-")
    if not base or base.isdigit():
        base = f"org-{base}" if base else "org"
    return base


def unique_slug(name: str) -> str:
    """A free, unreserved slug derived from ``name`` (a suffix is added when needed)."""
    base = slugify(name)
    candidate = base if len(base) >= 3 else f"{base}-org"
    while candidate in RESERVED_SLUGS or db.session.scalar(
        select(Organization.id).where(Organization.slug == candidate)
    ):
        candidate = f"{base}-{secrets.token_hex(3)}"
    return candidate


def create_organization(name: str, *, slug: str | None = None, owner: User | None = None) -> Organization:
    org = Organization(name=name.strip(), slug=slug or unique_slug(name), status=OrgStatus.ACTIVE)
    db.session.add(org)
    db.session.flush()
    if owner is not None:
        add_member(org, owner, role=roles.TOP_ROLE)
    return org


def get_org_by_slug(slug: str, *, active_only: bool = True) -> Organization | None:
    query = select(Organization).where(Organization.slug == (slug or "").lower())
    if active_only:
        query = query.where(Organization.status == OrgStatus.ACTIVE)
    return db.session.scalar(query)


def default_organization() -> Organization | None:
    org = db.session.scalar(select(Organization).where(Organization.is_default.is_(True)))
    if org is None:
        org = db.session.scalar(
            select(Organization).where(Organization.status == OrgStatus.ACTIVE).order_by(Organization.id)
        )
    return org


def ensure_default_organization() -> Organization | None:
    """In single-organization mode, make sure the default organization exists; returns it."""
    if not current_app.config["SINGLE_ORGANIZATION"]:
        return None
    org = default_organization()
    if org is None:
        name = current_app.config["ORGANIZATION_NAME"]
        org = create_organization(name)
        org.is_default = True
    elif not org.is_default:
        org.is_default = True
    return org


def get_membership(org: Organization | int, user: User | int) -> OrganizationMember | None:
    org_id = org if isinstance(org, int) else org.id
    user_id = user if isinstance(user, int) else user.id
    return db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org_id, OrganizationMember.user_id == user_id
        )
    )


def memberships(user: User) -> list[OrganizationMember]:
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .join(Organization)
            .where(OrganizationMember.user_id == user.id, Organization.status == OrgStatus.ACTIVE)
            .order_by(OrganizationMember.date_added, OrganizationMember.id)
        )
    )


def add_member(org: Organization, user: User, *, role: str | None = None) -> OrganizationMember:
    """Make ``user`` an approved member of ``org`` (returns the existing membership if there is one)."""
    existing = get_membership(org, user)
    if existing is not None:
        return existing
    member = OrganizationMember(
        organization_id=org.id,
        user_id=user.id,
        role=role or org.default_role or roles.DEFAULT_ROLE,
        invite_status=InviteStatus.APPROVED,
    )
    db.session.add(member)
    db.session.flush()
    from onboarding.webhooks.events import emit

    emit("member.joined", member)  # registration, SSO, createuser: the organization's webhooks hear it
    return member


def single_team(org: Organization) -> Team | None:
    teams = list(db.session.scalars(select(Team).where(Team.organization_id == org.id).limit(2)))
    return teams[0] if len(teams) == 1 else None


def add_team_member(team: Team, member: OrganizationMember) -> None:
    exists = db.session.scalar(
        select(OrganizationMemberTeam.id).where(
            OrganizationMemberTeam.team_id == team.id, OrganizationMemberTeam.member_id == member.id
        )
    )
    if exists is None:
        db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=member.id))


def auth_provider_for(org: Organization) -> AuthProvider | None:
    return db.session.scalar(select(AuthProvider).where(AuthProvider.organization_id == org.id))


def count_superusers() -> int:
    return db.session.scalar(select(func.count(User.id)).where(User.is_superuser.is_(True))) or 0


def memberships_of(org: Organization) -> list[OrganizationMember]:
    """Approved members that have joined (not pending invites), oldest first."""
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .where(OrganizationMember.organization_id == org.id, OrganizationMember.user_id.is_not(None))
            .order_by(OrganizationMember.date_added, OrganizationMember.id)
        )
    )
