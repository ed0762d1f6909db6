"""Deleting an account (at once) and an organization (hidden at once, its rows removed by a job).

Nothing here commits or reads ``request``. What goes is mostly left to the database: every foreign key
to ``user`` or ``organization`` is ``ON DELETE CASCADE`` (rows that belong to it) or ``SET NULL`` (rows
that only mention it, such as audit entries), and a test holds every table, present and future, to that.
This module adds only what no foreign key can express: invites addressed to an email, avatar files
(through the file store's reference counting, so a blob another file uses survives), avatar uploads
keyed by owner id, audit entries that must say "Deleted user", and the emails to members.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, func, select, update

from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.audit.models import AuditLogEntry
from onboarding.avatars import service as avatars
from onboarding.avatars.models import AvatarUpload
from onboarding.database import on_commit, write_intent
from onboarding.extensions import db
from onboarding.files.service import queue_after_commit
from onboarding.invites.addresses import addresses_of  # the invite belongs to its exact address
from onboarding.ops.models import ErrorEvent
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember, OrgStatus
from onboarding.outbox import mail
from onboarding.passwords import verify_password
from onboarding.webhooks import events as webhook_events

DELETED_USER = "Deleted user"
NO_PASSWORD = (
    "Your account has no password to confirm with. Set one first (use “Forgot your password?” on the "
    "sign-in page), then come back here."
)
DEFAULT_ORG = "This installation has a single organization; it cannot be deleted."


class SoleOwnerError(Exception):
    """The user is the only owner of these organizations; they must hand them over or delete them first."""

    def __init__(self, organizations: list[Organization]) -> None:
        self.organizations = organizations
        names = ", ".join(org.name for org in organizations)
        plural = "these organizations" if len(organizations) > 1 else "this organization"
        super().__init__(
            f"You are the only owner of {names}. Make someone else an owner of {plural}, or delete "
            f"{'them' if len(organizations) > 1 else 'it'}, before deleting your account."
        )


class OrgDeletionError(Exception):
    pass


# --- the account ------------------------------------------------------------------------------------


def password_matches(user: User, password: str) -> bool:
    """Whether ``password`` is the user's, checked with no transaction open (Argon2 takes a while and a
    POST's SQLite transaction holds the write lock; see ``accounts.service.authenticate``)."""
    with write_intent(False):
        stored = db.session.scalar(select(User.password_hash).where(User.id == user.id))
        db.session.rollback()
    return verify_password(stored, password)


def sole_owned(user: User, *, lock: bool = False) -> list[Organization]:
    """Active organizations whose only joined owner is ``user``, by name. ``lock`` takes row locks on
    the owners (PostgreSQL) so that two owners deleting their accounts at once cannot both go."""
    owned = list(
        db.session.scalars(
            select(Organization)
            .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
            .where(
                OrganizationMember.user_id == user.id,
                OrganizationMember.role == roles.TOP_ROLE,
                Organization.status == OrgStatus.ACTIVE,
            )
            .order_by(Organization.name, Organization.id)
        )
    )
    result = []
    for org in owned:
        query = select(OrganizationMember.id).where(
            OrganizationMember.organization_id == org.id,
            OrganizationMember.role == roles.TOP_ROLE,
            OrganizationMember.user_id.is_not(None),
        )
        if lock:
            query = query.with_for_update()
        if len(list(db.session.scalars(query))) <= 1:
            result.append(org)
    return result


@dataclass
class AccountDeletion:
    user_id: int
    organizations: list[int]
    invites: int


def delete_user(user: User, *, ip: str | None) -> AccountDeletion:
    """Delete ``user`` and everything that is theirs. Raises :class:`SoleOwnerError` (nothing changed).

    Gone: the user row and, by cascade, sessions, API tokens, second factors, emails, memberships, SSO
    identities, account tokens; here: invites addressed to them, avatar file and pending uploads. Kept:
    audit entries, with the actor shown as a deleted user, and captured errors, no longer naming them.
    Each organization's webhooks hear ``member.removed``. Each organization they belonged to records
    ``user.delete``, and so does the instance's own log.
    """
    blocking = sole_owned(user, lock=True)
    if blocking:
        raise SoleOwnerError(blocking)
    uid = user.id
    mine = orgs.memberships(user)
    for member in mine:
        _deleted_actor_entry(organization_id=member.organization_id, user_id=uid, ip=ip, role=member.role)
        webhook_events.emit("member.removed", member)  # built now, while the membership still exists
    _deleted_actor_entry(organization_id=None, user_id=uid, ip=ip, role=None)
    invites = db.session.execute(
        delete(OrganizationMember).where(
            OrganizationMember.user_id.is_(None), func.lower(OrganizationMember.email).in_(addresses_of(user))
        )
    )
    _delete_avatar("user", uid)
    db.session.execute(update(ErrorEvent).where(ErrorEvent.user_id == uid).values(user_id=None))
    db.session.execute(
        update(AuditLogEntry)
        .where(AuditLogEntry.actor_id == uid)
        .values(actor_id=None, actor_label=None, actor_deleted=True)
    )
    db.session.execute(delete(User).where(User.id == uid))  # the rest goes by ON DELETE CASCADE
    db.session.expunge(user)
    return AccountDeletion(uid, [m.organization_id for m in mine], invites.rowcount or 0)  # type: ignore[attr-defined]


def _deleted_actor_entry(
    *, organization_id: int | None, user_id: int, ip: str | None, role: str | None
) -> None:
    entry = audit.record(
        "user.delete",
        organization_id=organization_id,
        target_object=user_id,
        ip_address=ip,
        data={"role": role} if role else {},
    )
    entry.actor_deleted = True


def _delete_avatar(kind: str, owner_id: int) -> None:
    """The avatar row and its file (blobs collected after commit unless another file uses them), pending
    uploads, and the cached resized pictures."""
    avatar = avatars.get_avatar(kind, owner_id)
    if avatar is not None:
        ident = avatar.ident
        avatars.delete_avatar(kind, owner_id)
        on_commit(lambda: avatars.forget_cached(ident))
    db.session.execute(
        delete(AvatarUpload).where(AvatarUpload.kind == kind, AvatarUpload.owner_id == owner_id)
    )


# --- the organization -------------------------------------------------------------------------------


def can_delete(org: Organization) -> str | None:
    """Why ``org`` cannot be deleted, or None."""
    if org.is_default and current_app.config["SINGLE_ORGANIZATION"]:
        return DEFAULT_ORG
    return None


def delete_organization(org: Organization, actor: User, *, ip: str | None) -> int:
    """Hide ``org`` from everyone now and queue the job that removes it; returns how many members were
    emailed. Raises :class:`OrgDeletionError` for the default organization of a single-organization install.

    At once: the status leaves ACTIVE (every page and API answer 404), pending invites and join requests
    are deleted, each member gets an email (outbox, this transaction), and ``org.remove`` goes to the
    instance's audit log, which outlives the organization's own.
    """
    reason = can_delete(org)
    if reason:
        raise OrgDeletionError(reason)
    members = orgs.memberships_of(org)
    org.status = OrgStatus.PENDING_DELETION
    db.session.execute(
        delete(OrganizationMember).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.user_id.is_(None)
        )
    )
    audit.record(
        "org.remove",
        organization_id=None,
        actor=actor,
        target_object=org.id,
        ip_address=ip,
        data={**org.audit_data(), "members": len(members)},
    )
    for member in members:
        if member.user is not None:
            mail.queue_email(member.user.email, "org_deleted", org=org, actor=actor, member=member.user)
    queue_after_commit("onboarding.tasks.purge_organization", org.id)
    return len(members)


def purge_organization(org_id: int) -> bool:
    """The job body: remove a deleted organization's rows and files. Idempotent; an active organization
    (or one already gone) is left alone. Returns whether it removed something."""
    org = db.session.scalar(select(Organization).where(Organization.id == org_id).with_for_update())
    if org is None or org.status == OrgStatus.ACTIVE:
        return False
    org.status = OrgStatus.DELETION_IN_PROGRESS
    _delete_avatar("organization", org_id)
    db.session.flush()
    db.session.execute(delete(Organization).where(Organization.id == org_id))  # cascades to the rest
    db.session.expunge(org)
    return True


def pending_deletions() -> list[int]:
    """Organizations deleted but not removed yet (their job was lost, e.g. Redis was down)."""
    return list(db.session.scalars(select(Organization.id).where(Organization.status != OrgStatus.ACTIVE)))
