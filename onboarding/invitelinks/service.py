"""Shareable invite links: create, revoke, and join through one — with a use limit consumed atomically, a
domain lock that asks for proof of the address, and an optional approval queue.

Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError

from onboarding import ratelimit
from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import normalize_email
from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.invitelinks.models import InviteLink, InviteLinkRequest
from onboarding.invites import service as invites
from onboarding.invites import tokens
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember
from onboarding.outbox import mail
from onboarding.outbox.service import schedule

MEMBER_JOINED = "member_joined"  # the outbox category the invite journey's receivers handle
MAX_USES = 10_000
CONFIRM_MAX_AGE = 24 * 3600  # the emailed confirmation link of a domain-locked link
DAY = 24 * 3600
CREATE_LIMIT = ratelimit.Limit("invite-link:org", 50, DAY)
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


class LinkError(Exception):
    def __init__(self, message: str, field: str | None = None, *, status: int = 422, retry_after: int = 0):
        super().__init__(message)
        self.message, self.field, self.status, self.retry_after = message, field, status, retry_after


class Joined(enum.Enum):
    JOINED = "joined"  # a member now
    REQUESTED = "requested"  # a join request waits for managers' approval
    ALREADY_MEMBER = "already_member"
    ALREADY_REQUESTED = "already_requested"
    CONFIRM_SENT = "confirm_sent"  # the address must be proven first: a link was emailed to it
    DOMAIN_REFUSED = "domain_refused"  # no address of the account is at an allowed domain
    INVALID = "invalid"  # revoked, expired, used up, or never existed


@dataclass
class JoinResult:
    outcome: Joined
    organization: Organization | None = None
    email: str | None = None


def role_rule(actor_role: str, role: str, action: str) -> None:
    """The invite journey's one role rule (managers up to manager, owners every role), for links too."""
    try:
        invites.check_role(actor_role, role, action)
    except invites.InviteError as exc:
        raise LinkError(str(exc), exc.field, status=exc.status or 422) from None


def domains_text(link: InviteLink) -> str:
    return ", ".join(link.allowed_domains)


def domain_refusal(link: InviteLink) -> str:
    return f"This link is only for addresses at {domains_text(link)}."


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


def verified_addresses(user: User) -> list[str]:
    return [
        normalize_email(e)
        for e in db.session.scalars(
            select(UserEmail.email).where(UserEmail.user_id == user.id, UserEmail.is_verified.is_(True))
        )
    ]


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
            send_confirmation(link, user, email)
            return JoinResult(Joined.CONFIRM_SENT, org, email)
        else:
            return JoinResult(Joined.DOMAIN_REFUSED, org)
    return _admit(link, user, email, ip=ip)


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


def _admit(link: InviteLink, user: User, email: str, *, ip: str | None) -> JoinResult:
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
    _joined(org, user, member, link.created_by_id)
    return JoinResult(Joined.JOINED, org, email)


def _joined(org: Organization, user: User, member: OrganizationMember, inviter_id: int | None) -> None:
    # The same member-joined outbox message as an accepted invite (onboarding task, inviter's email),
    # and the organization's webhooks hear ``member.joined``; all in the caller's transaction.
    from onboarding.webhooks.events import emit

    emit("member.joined", member)
    schedule(
        MEMBER_JOINED,
        {
            "organization_id": org.id,
            "user_id": user.id,
            "organization_member_id": member.id,
            "inviter_id": inviter_id,
        },
    )


# -- Domain lock: proving the address -------------------------------------------------------------


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invite-link-confirm")


def send_confirmation(link: InviteLink, user: User, email: str) -> None:
    """Email ``email`` a link that proves it and then joins (signed: link, account, address; 1 day)."""
    signed = _serializer().dumps({"l": link.id, "u": user.id, "e": email})
    url = f"{invites.base_url()}/join/confirm/{signed}/"
    mail.queue_email(email, "invite_link_confirm", org=link.organization, user=user, url=url)


def confirm(signed: str, *, ip: str | None) -> JoinResult:
    """The emailed confirmation link was opened: the address is proven (a verified address of the
    account from now on), then the account joins through the link as :func:`join` would."""
    try:
        data = _serializer().loads(signed, max_age=CONFIRM_MAX_AGE)
        link_id, user_id, email = int(data["l"]), int(data["u"]), str(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return JoinResult(Joined.INVALID)
    link = db.session.get(InviteLink, link_id)
    user = db.session.get(User, user_id)
    if link is None or user is None or not user.is_active or not link.domain_allowed(email):
        return JoinResult(Joined.INVALID)
    if normalize_email(user.email) != email and email not in _addresses(user):
        return JoinResult(Joined.INVALID)
    row = db.session.scalar(select(UserEmail).where(UserEmail.user_id == user.id, UserEmail.email == email))
    if row is None:
        db.session.add(UserEmail(user_id=user.id, email=email, is_verified=True))
    else:
        row.is_verified = True
    if not link.is_live or not link.organization.is_active:
        return JoinResult(Joined.INVALID)
    if orgs.get_membership(link.organization, user) is not None:
        return JoinResult(Joined.ALREADY_MEMBER, link.organization)
    return _admit(link, user, email, ip=ip)


def _addresses(user: User) -> list[str]:
    return [
        normalize_email(e)
        for e in db.session.scalars(select(UserEmail.email).where(UserEmail.user_id == user.id))
    ]


# -- Approval ---------------------------------------------------------------------------------------


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
    _joined(org, user, member, actor.id)
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
