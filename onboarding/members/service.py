"""Changing, removing and leaving memberships. Nothing here commits; the caller commits once.

The rules (contract: Roles):

- managers and owners change roles and teams and remove members, up to their own role: a manager may
  touch members, admins and managers and give those roles; an owner may do everything;
- nobody changes or removes a member whose role is above their own;
- the last owner of an organization can neither leave, nor be demoted, nor be removed;
- anyone may leave an organization (except its last owner).

Each change adds an audit entry (``member.edit``, ``member.remove``, ``member.leave``) to the transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.orgs import roles
from onboarding.orgs.models import Organization, OrganizationMember, OrganizationMemberTeam, Team

NOT_ALLOWED = "You do not have permission to perform this action."
HIGHER_ROLE_EDIT = "You cannot change a member with a higher role than your own."
HIGHER_ROLE_REMOVE = "You cannot remove a member with a higher role than your own."
LAST_OWNER_DEMOTE = "The last owner of an organization cannot be demoted. Make someone else an owner first."
LAST_OWNER_REMOVE = "The last owner of an organization cannot be removed."
LAST_OWNER_LEAVE = "You are the last owner of this organization. Make someone else an owner before leaving."
PENDING = "This is a pending invite, not a member yet."
INVALID_TEAMS = "Invalid teams"


class MemberError(Exception):
    """A refused change. ``field`` names the input at fault (or None); ``forbidden`` means a 403."""

    def __init__(
        self, message: str, field: str | None = None, *, forbidden: bool = False, last_owner: bool = False
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.forbidden = forbidden
        self.last_owner = last_owner  # a rule about the organization, not about the caller's rights


def owner_count(org: Organization, *, lock: bool = False) -> int:
    """Joined owners of ``org``. ``lock`` takes row locks (PostgreSQL) so two demotions cannot race."""
    query = select(OrganizationMember.id).where(
        OrganizationMember.organization_id == org.id,
        OrganizationMember.role == roles.TOP_ROLE,
        OrganizationMember.user_id.is_not(None),
    )
    if lock:
        query = query.with_for_update()
    return len(list(db.session.scalars(query)))


def is_last_owner(member: OrganizationMember) -> bool:
    return member.role == roles.TOP_ROLE and owner_count(member.organization, lock=True) <= 1


def can_manage(actor_role: str, member: OrganizationMember) -> bool:
    """Whether someone with ``actor_role`` may change or remove ``member`` at all (the page shows controls)."""
    return roles.has_permission(actor_role, "member:write") and roles.rank(member.role) <= roles.rank(
        actor_role
    )


def teams_of(org: Organization) -> list[Team]:
    return list(db.session.scalars(select(Team).where(Team.organization_id == org.id).order_by(Team.name)))


def teams_by_slugs(org: Organization, slugs: object) -> list[Team]:
    """The organization's teams named by ``slugs``; :class:`MemberError` on ``teams`` for anything else."""
    if not isinstance(slugs, list) or not all(isinstance(s, str) for s in slugs):
        raise MemberError("Send a list of team slugs.", "teams")
    wanted = set(slugs)
    found = [t for t in teams_of(org) if t.slug in wanted]
    if len(found) != len(wanted):
        raise MemberError(INVALID_TEAMS, "teams")
    return found


def teams_by_ids(org: Organization, ids: Iterable[int]) -> list[Team]:
    wanted = set(ids)
    found = [t for t in teams_of(org) if t.id in wanted]
    if len(found) != len(wanted):
        raise MemberError(INVALID_TEAMS, "teams")
    return found


def _snapshot(member: OrganizationMember) -> dict[str, Any]:
    teams = sorted(member.teams, key=lambda t: t.slug)
    return {"role": member.role, "teams": [t.id for t in teams], "teams_slugs": [t.slug for t in teams]}


def set_teams(member: OrganizationMember, teams: Iterable[Team]) -> None:
    """Make ``member``'s active team links exactly ``teams`` (inactive links for them are reactivated)."""
    wanted = {t.id: t for t in teams}
    for link in list(member.team_links):
        if link.team_id not in wanted:
            member.team_links.remove(link)
        else:
            link.is_active = True
            del wanted[link.team_id]
    for team in wanted.values():
        db.session.add(OrganizationMemberTeam(team=team, member=member))


def edit_member(
    org: Organization,
    member: OrganizationMember,
    actor: User,
    actor_role: str,
    *,
    role: str | None = None,
    teams: list[Team] | None = None,
    ip: str | None = None,
) -> bool:
    """Change ``member``'s role and/or teams (None leaves that part alone); True when something changed.

    Raises :class:`MemberError`: forbidden for a caller below manager or a member above the caller's role;
    on ``role`` for an unknown role, one above the caller's ceiling, or demoting the last owner.
    Adds the ``member.edit`` audit entry with the role and teams before and after.
    """
    if member.organization_id != org.id:
        raise MemberError("The requested resource does not exist", forbidden=True)
    if member.is_pending:
        raise MemberError(PENDING)
    if not roles.has_permission(actor_role, "member:write"):
        raise MemberError(NOT_ALLOWED, forbidden=True)
    if roles.rank(member.role) > roles.rank(actor_role):
        raise MemberError(HIGHER_ROLE_EDIT, forbidden=True)
    if role is not None and role != member.role:
        if not roles.is_valid(role):
            raise MemberError("Choose a valid role.", "role")
        if role not in {r.id for r in roles.allowed_to_assign(actor_role)}:
            raise MemberError(f"You do not have permission to assign the role {role}.", "role")
        if is_last_owner(member):
            raise MemberError(LAST_OWNER_DEMOTE, "role", last_owner=True)
    for team in teams or []:
        if team.organization_id != org.id:
            raise MemberError(INVALID_TEAMS, "teams")
    before = _snapshot(member)
    if role is not None:
        member.role = role
    if teams is not None:
        set_teams(member, teams)
    db.session.flush()
    after = _snapshot(member)
    if after == before:
        return False
    if after["role"] != before["role"]:
        _emit("member.role-changed", member)
    audit.record(
        "member.edit",
        organization_id=org.id,
        actor=actor,
        target_object=member.id,
        target_user_id=member.user_id,
        ip_address=ip,
        data={"email": member.get_email(), "user": member.user_id, "before": before, "after": after},
    )
    return True


def _audit_data(member: OrganizationMember) -> dict[str, Any]:
    from onboarding.invites.service import member_audit_data  # Sentry's get_audit_log_data() shape

    return member_audit_data(member)


def _emit(event: str, member: OrganizationMember) -> None:
    from onboarding.webhooks.events import emit  # the organization's webhooks, in this transaction

    emit(event, member)


def remove_member(
    org: Organization,
    member: OrganizationMember,
    actor: User,
    actor_role: str,
    *,
    ip: str | None = None,
) -> str:
    """Remove ``member`` from ``org``; returns the audit event (``member.remove``, or ``member.leave``
    when the actor removes themselves).

    Raises :class:`MemberError` (forbidden): caller below manager, a member above the caller's role, the
    last owner. Pending invites are refused here (they are revoked instead).
    """
    if member.organization_id != org.id:
        raise MemberError("The requested resource does not exist", forbidden=True)
    if member.is_pending:
        raise MemberError(PENDING)
    if member.user_id == actor.id:
        leave(org, member, actor, ip=ip)
        return "member.leave"
    if not roles.has_permission(actor_role, "member:write"):
        raise MemberError(NOT_ALLOWED, forbidden=True)
    if roles.rank(member.role) > roles.rank(actor_role):
        raise MemberError(HIGHER_ROLE_REMOVE, forbidden=True)
    if is_last_owner(member):
        raise MemberError(LAST_OWNER_REMOVE, forbidden=True, last_owner=True)
    audit.record(
        "member.remove",
        organization_id=org.id,
        actor=actor,
        target_object=member.id,
        target_user_id=member.user_id,
        ip_address=ip,
        data=_audit_data(member),
    )
    _emit("member.removed", member)
    db.session.delete(member)
    db.session.flush()
    return "member.remove"


def leave(org: Organization, member: OrganizationMember, actor: User, *, ip: str | None = None) -> None:
    """``actor`` leaves ``org`` (their own ``member`` row goes). Raises :class:`MemberError` (forbidden)
    for the last owner. Adds the ``member.leave`` audit entry."""
    if member.organization_id != org.id or member.user_id != actor.id:
        raise MemberError("You are not a member of this organization.", forbidden=True)
    if is_last_owner(member):
        raise MemberError(LAST_OWNER_LEAVE, forbidden=True, last_owner=True)
    audit.record(
        "member.leave",
        organization_id=org.id,
        actor=actor,
        target_object=member.id,
        target_user_id=member.user_id,
        ip_address=ip,
        data=_audit_data(member),
    )
    _emit("member.removed", member)
    db.session.delete(member)
    db.session.flush()
