"""Managers approve or reject the join requests filed through a link that requires approval."""

from __future__ import annotations

from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.invitelinks.common import announce_joined, role_rule
from onboarding.invitelinks.models import InviteLinkRequest
from onboarding.orgs import service as orgs
from onboarding.orgs.models import InviteStatus, OrganizationMember
from onboarding.outbox import mail


def link_request(member: OrganizationMember) -> InviteLinkRequest | None:
    return db.session.scalar(select(InviteLinkRequest).where(InviteLinkRequest.member_id == member.id))


def approve(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> bool:
    """Approve a join request filed through a link: its account becomes a member at once, is emailed,
    and the member-joined message goes out. False when ``member`` is not such a request."""
    req = link_request(member)
    if req is None:
        return False
    role_rule(actor_role, member.role, "approve")
    org, user = member.organization, req.user
    db.session.delete(req)
    if orgs.get_membership(org, user) is not None:
        db.session.delete(member)
        return True
    member.user_id, member.email, member.invite_status = user.id, None, InviteStatus.APPROVED
    member.inviter_id = actor.id
    db.session.flush()
    audit.record(
        "member.approve-join-request",
        organization_id=org.id,
        actor=actor,
        target_object=member.id,
        target_user_id=user.id,
        ip_address=ip,
        data={"role": member.role, "email": user.email},
    )
    announce_joined(org, user, member, actor.id)
    mail.queue_email(user.email, "join_link_outcome", org=org, user=user, approved=True)
    return True


def reject(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> bool:
    """Reject a join request filed through a link: it is deleted and its account emailed. False when
    ``member`` is not such a request."""
    req = link_request(member)
    if req is None:
        return False
    role_rule(actor_role, member.role, "reject")
    user, org = req.user, member.organization
    audit.record(
        "invite-request.remove",
        organization_id=org.id,
        actor=actor,
        target_object=member.id,
        target_user_id=user.id,
        ip_address=ip,
        data={"role": member.role, "email": member.email},
    )
    mail.queue_email(user.email, "join_link_outcome", org=org, user=user, approved=False)
    db.session.delete(member)
    return True
