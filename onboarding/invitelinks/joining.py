"""Joining through a shareable link: the use taken by one conditional UPDATE, the membership or the
join request in the same savepoint, the address proven first when the link is domain-locked."""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from onboarding.accounts.models import User
from onboarding.accounts.service import normalize_email
from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.invitelinks import proof
from onboarding.invitelinks.common import Joined, JoinResult, announce_joined, verified_addresses
from onboarding.invitelinks.models import InviteLink, InviteLinkRequest
from onboarding.invites import service as invites
from onboarding.orgs import service as orgs
from onboarding.orgs.models import InviteStatus, OrganizationMember
from onboarding.outbox import mail


def join(link: InviteLink, user: User, *, ip: str | None) -> JoinResult:
    """``user`` joins through ``link`` (or files a join request when the link requires approval).

    Domain-locked links: an already verified address of the account at an allowed domain is used;
    otherwise, when the primary address is at an allowed domain, a confirmation link is emailed to it
    (CONFIRM_SENT, nothing else changes); otherwise DOMAIN_REFUSED.
    """
    org = link.organization
    if not link.is_live or not org.is_active:
        return JoinResult(Joined.INVALID)
    if orgs.get_membership(org, user) is not None:
        return JoinResult(Joined.ALREADY_MEMBER, org)
    email = normalize_email(user.email)
    if link.allowed_domains:
        proven = [a for a in verified_addresses(user) if link.domain_allowed(a)]
        if proven:
            email = proven[0]
        elif link.domain_allowed(email):
            proof.send_confirmation(link, user, email)
            return JoinResult(Joined.CONFIRM_SENT, org, email)
        else:
            return JoinResult(Joined.DOMAIN_REFUSED, org)
    return admit(link, user, email, ip=ip)


def _take_use(link: InviteLink) -> bool:
    """One conditional UPDATE: the use is taken only while the link is live and below its limit, so
    concurrent joins never exceed ``max_uses``."""
    taken = db.session.execute(
        update(InviteLink)
        .where(
            InviteLink.id == link.id,
            InviteLink.revoked_at.is_(None),
            InviteLink.expires_at > utcnow(),
            or_(InviteLink.max_uses.is_(None), InviteLink.uses < InviteLink.max_uses),
        )
        .values(uses=InviteLink.uses + 1)
        .returning(InviteLink.id)
        .execution_options(synchronize_session=False)
    ).first()
    return taken is not None


def admit(link: InviteLink, user: User, email: str, *, ip: str | None) -> JoinResult:
    org = link.organization
    if link.require_approval:
        asked = db.session.scalar(
            select(InviteLinkRequest.id)
            .join(OrganizationMember, OrganizationMember.id == InviteLinkRequest.member_id)
            .where(InviteLinkRequest.user_id == user.id, OrganizationMember.organization_id == org.id)
        )
        if asked is not None:
            return JoinResult(Joined.ALREADY_REQUESTED, org, email)
    try:
        with db.session.begin_nested():
            if not _take_use(link):
                return JoinResult(Joined.INVALID)
            if link.require_approval:
                member = OrganizationMember(
                    organization_id=org.id,
                    email=email,
                    role=link.role,
                    invite_status=InviteStatus.REQUESTED_TO_JOIN,
                )
                db.session.add(member)
                db.session.flush()
                db.session.add(InviteLinkRequest(member_id=member.id, link_id=link.id, user_id=user.id))
            else:
                member = OrganizationMember(
                    organization_id=org.id, user_id=user.id, role=link.role, inviter_id=link.created_by_id
                )
                db.session.add(member)
            db.session.flush()
    except IntegrityError:
        # A membership or request for this account or address appeared meanwhile; the use is given back.
        if orgs.get_membership(org, user) is not None:
            return JoinResult(Joined.ALREADY_MEMBER, org)
        return JoinResult(Joined.ALREADY_REQUESTED, org, email)
    audit.record(
        "member.join-via-link",
        organization_id=org.id,
        actor=user,
        target_object=member.id,
        target_user_id=user.id,
        ip_address=ip,
        data={"link": link.id, "role": link.role, "email": email, "approval": link.require_approval},
    )
    if link.require_approval:
        url = f"{invites.base_url()}/organizations/{org.slug}/members/"
        for manager in invites.managers(org):
            mail.queue_email(
                manager.email,
                "join_request",
                org=org,
                manager=manager,
                url=url,
                member=member,
                name=user.display_name,
            )
        return JoinResult(Joined.REQUESTED, org, email)
    announce_joined(org, user, member, link.created_by_id)
    return JoinResult(Joined.JOINED, org, email)
