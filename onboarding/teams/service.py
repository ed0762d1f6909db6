"""Teams of an organization: create, rename, delete, and who is in them. Nothing here commits.

Slugs are derived from the name (``onboarding.orgs.service.slugify``), unique within the organization,
and never change on a rename unless a new slug is given. Each change adds an audit entry to the
transaction: ``team.create``, ``team.edit``, ``team.remove``, ``member.join-team``, ``member.leave-team``.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember, OrganizationMemberTeam, Team

NAME_MAX = 64
SLUG_MAX = 50
TEAM_SLUG_RE = re.compile(r"^(?![0-9]+$)[a-z0-9][a-z0-9-]*(?<!-)$")
SLUG_PATTERN_ERROR = (
    "Enter a valid slug consisting of lowercase letters, numbers, or hyphens. "
    "It cannot be entirely numeric or start/end with a hyphen."
)


class TeamError(Exception):
    """A refused change; ``field`` names the input at fault (``name`` or ``slug``), or None."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def teams_of(org: Organization) -> list[Team]:
    return list(db.session.scalars(select(Team).where(Team.organization_id == org.id).order_by(Team.name)))


def get_team(org: Organization, slug: str) -> Team | None:
    return db.session.scalar(select(Team).where(Team.organization_id == org.id, Team.slug == (slug or "")))


def members_of(team: Team) -> list[OrganizationMember]:
    """Joined members with an active link to ``team``, oldest first."""
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .join(OrganizationMemberTeam, OrganizationMemberTeam.member_id == OrganizationMember.id)
            .where(
                OrganizationMemberTeam.team_id == team.id,
                OrganizationMemberTeam.is_active.is_(True),
                OrganizationMember.user_id.is_not(None),
            )
            .order_by(OrganizationMember.date_added, OrganizationMember.id)
        )
    )


def clean_name(raw: object) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise TeamError("Enter a name for the team.", "name")
    name = " ".join(raw.split())
    if len(name) > NAME_MAX:
        raise TeamError(f"Ensure the name has no more than {NAME_MAX} characters.", "name")
    return name


def slug_from_name(name: str) -> str:
    """The slug a team called ``name`` gets: ``Front End`` → ``front-end``, ``2024`` → ``team-2024``."""
    letters = re.sub(r"[^a-z0-9]", "", name.lower())
    if not letters:
        raise TeamError(
            "The name must contain letters or numbers, so that a slug can be made from it.", "name"
        )
    slug = orgs.slugify(name)
    if letters.isdigit():
        slug = f"team-{slug.removeprefix('org-')}"
    return slug[:SLUG_MAX]


def _check_slug(org: Organization, slug: str, *, field: str, exclude_id: int | None = None) -> None:
    if len(slug) > SLUG_MAX:
        raise TeamError(f"Ensure the slug has no more than {SLUG_MAX} characters.", "slug")
    if not TEAM_SLUG_RE.match(slug):
        raise TeamError(SLUG_PATTERN_ERROR, "slug")
    query = select(Team.id).where(Team.organization_id == org.id, Team.slug == slug)
    if exclude_id is not None:
        query = query.where(Team.id != exclude_id)
    if db.session.scalar(query) is not None:
        raise TeamError(f'A team with the slug "{slug}" already exists in this organization.', field)


def _audit(event: str, team: Team, actor: User, ip: str | None, **extra: Any) -> None:
    audit.record(
        event,
        organization_id=team.organization_id,
        actor=actor,
        target_object=team.id,
        ip_address=ip,
        data={"id": team.id, "slug": team.slug, "name": team.name, **extra},
    )


def _flush_unique(org: Organization, slug: str, field: str) -> None:
    """Flush in a savepoint so a concurrent insert of the same slug becomes a clear :class:`TeamError`."""
    try:
        with db.session.begin_nested():
            db.session.flush()
    except IntegrityError:
        raise TeamError(
            f'A team with the slug "{slug}" already exists in this organization.', field
        ) from None


def create_team(
    org: Organization, actor: User, name: object, *, slug: object = None, ip: str | None = None
) -> Team:
    """Add a team named ``name`` (slug derived from it unless ``slug`` is given). Raises :class:`TeamError`
    on ``name`` (empty, too long, no letters, slug taken) or ``slug`` (malformed, taken)."""
    clean = clean_name(name)
    if slug not in (None, ""):
        if not isinstance(slug, str):
            raise TeamError(SLUG_PATTERN_ERROR, "slug")
        team_slug, field = slug.strip(), "slug"
    else:
        team_slug, field = slug_from_name(clean), "name"
    _check_slug(org, team_slug, field=field)
    team = Team(organization_id=org.id, name=clean, slug=team_slug)
    db.session.add(team)
    _flush_unique(org, team_slug, field)
    _audit("team.create", team, actor, ip)
    return team


def edit_team(
    team: Team, actor: User, *, name: object = None, slug: object = None, ip: str | None = None
) -> bool:
    """Rename ``team`` and/or change its slug (None or "" keeps each); True when something changed.
    Raises :class:`TeamError` like :func:`create_team`. Adds ``team.edit`` with the values before."""
    before = {"name": team.name, "slug": team.slug}
    new_name = clean_name(name) if name not in (None, "") else team.name
    new_slug = team.slug
    if slug not in (None, ""):
        if not isinstance(slug, str):
            raise TeamError(SLUG_PATTERN_ERROR, "slug")
        new_slug = slug.strip()
        _check_slug(team.organization, new_slug, field="slug", exclude_id=team.id)
    if (new_name, new_slug) == (team.name, team.slug):
        return False
    team.name, team.slug = new_name, new_slug
    _flush_unique(team.organization, new_slug, "slug")
    _audit("team.edit", team, actor, ip, before=before)
    return True


def delete_team(team: Team, actor: User, *, ip: str | None = None) -> None:
    """Delete ``team`` and its member links. Adds ``team.remove``."""
    _audit("team.remove", team, actor, ip, members=[m.id for m in members_of(team)])
    for link in db.session.scalars(
        select(OrganizationMemberTeam).where(OrganizationMemberTeam.team_id == team.id)
    ):
        db.session.delete(link)
    db.session.delete(team)
    db.session.flush()


def add_member(team: Team, member: OrganizationMember, actor: User, *, ip: str | None = None) -> bool:
    """Put a joined member of the team's organization into ``team``; False when already in it.
    Raises :class:`TeamError` for a pending invite or a member of another organization."""
    if member.organization_id != team.organization_id or member.is_pending:
        raise TeamError("Choose a member of this organization.", "member")
    link = db.session.scalar(
        select(OrganizationMemberTeam).where(
            OrganizationMemberTeam.team_id == team.id, OrganizationMemberTeam.member_id == member.id
        )
    )
    if link is not None and link.is_active:
        return False
    if link is None:
        db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=member.id))
    else:
        link.is_active = True
    db.session.flush()
    db.session.expire(member, ["team_links"])
    _member_audit("member.join-team", team, member, actor, ip)
    return True


def remove_member(team: Team, member: OrganizationMember, actor: User, *, ip: str | None = None) -> bool:
    """Take ``member`` out of ``team``; False when they were not in it."""
    link = db.session.scalar(
        select(OrganizationMemberTeam).where(
            OrganizationMemberTeam.team_id == team.id, OrganizationMemberTeam.member_id == member.id
        )
    )
    if link is None or not link.is_active:
        return False
    db.session.delete(link)
    db.session.flush()
    db.session.expire(member, ["team_links"])
    _member_audit("member.leave-team", team, member, actor, ip)
    return True


def _member_audit(event: str, team: Team, member: OrganizationMember, actor: User, ip: str | None) -> None:
    audit.record(
        event,
        organization_id=team.organization_id,
        actor=actor,
        target_object=member.id,
        target_user_id=member.user_id,
        ip_address=ip,
        data={"team": team.id, "team_slug": team.slug, "email": member.get_email()},
    )
