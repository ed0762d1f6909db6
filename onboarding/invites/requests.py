"""Requests: members ask managers to invite someone, outsiders ask to join, holders of an expired link
ask for a fresh one; managers approve or reject (spec §1.7 ``validate_invitation``).

Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

from onboarding.accounts.models import User
from onboarding.accounts.service import normalize_email
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.invites.addresses import existing_for_email
from onboarding.invites.common import (
    RENEWAL_REQUESTED,
    InviteError,
    check_role,
    issue_token,
    member_audit_data,
    notify_managers,
    pending_only,
)
from onboarding.invites.sending import invited
from onboarding.orgs import options, roles
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember, OrgFlags

JOIN_REQUESTS_OPTION = "join_requests"  # allowJoinRequests; default True (spec ORG_OPTIONS)


def join_requests_allowed(org: Organization) -> bool:
    return bool(options.get_value(org.id, JOIN_REQUESTS_OPTION, True))


def approve(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> None:
    """Approve a request, then invite as usual (audit ``member.invite``, the email)."""
    pending_only(member)
    if member.invite_approved:
        raise InviteError("This invite is not waiting for approval.")
    org = member.organization
    if (
        org.has_flag(OrgFlags.DISABLE_MEMBER_INVITE)
        and member.invite_status == InviteStatus.REQUESTED_TO_BE_INVITED
    ):
        raise InviteError("Your organization is not allowed to invite members.")
    if member.invite_status == InviteStatus.REQUESTED_TO_JOIN and not join_requests_allowed(org):
        raise InviteError("Your organization does not allow requests to join.")
    check_role(actor_role, member.role, "approve")
    member.invite_status = InviteStatus.APPROVED
    invited(member, issue_token(member), actor, ip=ip)


def reject(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> None:
    """Delete a request (audit ``invite-request.remove``)."""
    pending_only(member)
    if member.invite_approved:
        raise InviteError("This invite is not a request; revoke it instead.")
    check_role(actor_role, member.role, "reject")
    audit.record(
        "invite-request.remove",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    db.session.delete(member)


def request_join(org: Organization, email: str, name: str, *, ip: str | None) -> None:
    """Someone outside asks to join. Always looks the same from outside (no enumeration of members)."""
    if not join_requests_allowed(org):
        raise InviteError("This organization does not accept requests to join.")
    normalized = normalize_email(email)
    if existing_for_email(org, normalized) is not None:
        return  # already a member, invited or asking: nothing new to tell the managers
    member = OrganizationMember(
        organization_id=org.id,
        email=normalized,
        role=org.default_role or roles.DEFAULT_ROLE,
        invite_status=InviteStatus.REQUESTED_TO_JOIN,
    )
    db.session.add(member)
    db.session.flush()
    audit.record(
        "join-request.create",
        organization_id=org.id,
        actor_label=normalized,
        target_object=member.id,
        ip_address=ip,
        data={"email": normalized, "name": name[:100]},
    )
    notify_managers(org, "join_request", member=member, name=name)


def request_renewal(member: OrganizationMember, *, ip: str | None) -> bool:
    """The holder of a genuine, expired link asks for a new one; managers are told once per expiry."""
    if member.flags & RENEWAL_REQUESTED:
        return False
    member.flags |= RENEWAL_REQUESTED
    audit.record(
        "invite-request.renew",
        organization_id=member.organization_id,
        actor_label=member.email,
        target_object=member.id,
        ip_address=ip,
        data={"email": member.email},
    )
    notify_managers(member.organization, "invite_renewal", member=member)
    return True
