"""Invitations: inviting, resending, revoking, requests, and accepting (spec §1.3–§1.9, contract differences).

Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from email_validator import EmailNotValidError, validate_email
from flask import current_app
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from onboarding import buffer, metrics, ratelimit
from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import normalize_email
from onboarding.audit import service as audit
from onboarding.database import on_commit
from onboarding.extensions import db, utcnow
from onboarding.invites import tokens
from onboarding.invites.models import OrganizationInviteStats
from onboarding.orgs import onboarding_tasks, options, roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import (
    AuthIdentity,
    InviteStatus,
    Organization,
    OrganizationMember,
    OrganizationMemberTeam,
    OrgFlags,
    Team,
)
from onboarding.outbox import mail
from onboarding.outbox.models import OutboxMessage
from onboarding.outbox.receivers import MEMBER_JOINED
from onboarding.outbox.service import schedule
from onboarding.twofactor.service import user_has_2fa

log = logging.getLogger(__name__)

INVALID_LINK = "The invite link you followed is not valid, or has expired."
RENEWAL_REQUESTED = 1 << 8  # OrganizationMember.flags: the invitee asked for a fresh link
LINK_COPIED = 1 << 9  # OrganizationMember.flags: the current link was copied to hand over, not emailed
JOIN_REQUESTS_OPTION = "join_requests"  # allowJoinRequests; default True (spec ORG_OPTIONS)

DAY = 24 * 3600
LIMIT_PER_INVITER = ratelimit.Limit("invite:inviter", 100, DAY)
LIMIT_PER_ORG = ratelimit.Limit("invite:org", 100, DAY)
LIMIT_PER_EMAIL = ratelimit.Limit("invite:email", 10, DAY)
LIMIT_JOIN_REQUESTS = ratelimit.Limit("join-request:ip", 10, 3600)


class InviteError(Exception):
    """A refusal meant for the person; ``field`` names the form field it belongs to, if any."""

    def __init__(
        self, message: str, field: str | None = None, *, status: int | None = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.field = field
        self.status = status  # an HTTP status for the API, when not the usual 400 (429: a rate limit)
        self.retry_after = retry_after  # seconds, for a rate limit


@dataclass
class Outcome:
    email: str
    ok: bool
    message: str
    member: OrganizationMember | None = None
    resend_member_id: int | None = None
    retry_after: int = 0  # seconds until a daily limit allows this address again (0: not limited)


# --- links --------------------------------------------------------------------------------------


def base_url() -> str:
    base = current_app.config.get("BASE_URL")
    if not base:
        log.warning("ONBOARDING_BASE_URL is not set; links in emails point to http://127.0.0.1:5000")
        return "http://127.0.0.1:5000"
    return str(base)


def accept_path(member_id: int, raw_token: str) -> str:
    return f"/accept/{member_id}/{raw_token}/"


def invite_link(member_id: int, raw_token: str) -> str:
    return base_url() + accept_path(member_id, raw_token)


def issue_token(member: OrganizationMember) -> str:
    """A fresh token and expiry for the invite (earlier links stop working); returns the raw token."""
    raw, digest = tokens.new_token()
    member.token_hash = digest
    member.token_expires_at = utcnow() + timedelta(seconds=current_app.config["INVITE_EXPIRY_SECONDS"])
    member.flags = (member.flags or 0) & ~(RENEWAL_REQUESTED | LINK_COPIED)
    member.invite_email_id = member.invite_emailed_at = None  # any earlier email carries a dead link
    return raw


# --- inviting -----------------------------------------------------------------------------------

_SPLIT = re.compile(r"[\s,;]+")


def parse_emails(text: str | list[str]) -> list[str]:
    """Split on commas, semicolons, whitespace and newlines; keep the first of case-insensitive duplicates."""
    raw = text if isinstance(text, list) else _SPLIT.split(text or "")
    seen: dict[str, str] = {}
    for item in raw:
        item = item.strip()
        if item and item.lower() not in seen:
            seen[item.lower()] = item
    return list(seen.values())


def member_audit_data(member: OrganizationMember) -> dict[str, Any]:
    teams = member.teams
    return {
        "email": member.get_email(),
        "user": member.user_id,
        "role": member.role,
        "teams": [t.id for t in teams],
        "teams_slugs": [t.slug for t in teams],
        "has_global_access": member.has_global_access,
        "invite_status": InviteStatus(member.invite_status).api_name,
    }


def check_role(org: Organization, actor_role: str, role: str) -> None:
    if not roles.is_valid(role):
        raise InviteError("Choose a valid role.", "role")
    allowed = {r.id for r in roles.allowed_to_assign(actor_role)}
    if role not in allowed:
        raise InviteError(f"You do not have permission to invite a member with the role {role}.", "role")


def _existing_for_email(org: Organization, email: str) -> tuple[str, OrganizationMember] | None:
    member = db.session.scalar(
        select(OrganizationMember)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == org.id, User.email == email)
    )
    if member is not None:
        return "member", member
    pending = db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.email == email
        )
    )
    if pending is not None:
        return ("invited" if pending.invite_approved else "requested"), pending
    return None


def _take_invite_allowance(org_id: int, inviter_id: int, email: str) -> int:
    """Sentry's daily invite limits (per inviter, per organization, per address and organization): the
    seconds until the spent ones allow another invite; otherwise 0, and this invite counts against all
    three. Every invite email counts."""
    limits = (
        (LIMIT_PER_INVITER, str(inviter_id)),
        (LIMIT_PER_ORG, str(org_id)),
        (LIMIT_PER_EMAIL, f"{org_id}:{email}"),
    )
    wait = max(ratelimit.retry_after(limit, subject) for limit, subject in limits)
    if wait:
        return wait
    for limit, subject in limits:
        ratelimit.hit(limit, subject)
    return 0


def invite_many(
    org: Organization,
    inviter: User,
    inviter_role: str,
    emails: str | list[str],
    role: str,
    teams: list[Team],
    *,
    ip: str | None,
    request_only: bool = False,
) -> list[Outcome]:
    """Invite each address (or, with ``request_only``, ask the managers to). One outcome per address.

    Adds to the transaction: the invite rows, their team links, audit entries, the invite emails (outbox)
    and the pending "invite a member" onboarding task. Raises InviteError for a bad role.
    """
    if request_only:
        if not roles.is_valid(role) or roles.rank(role) > roles.rank("manager"):
            raise InviteError("Choose a valid role.", "role")
    else:
        check_role(org, inviter_role, role)
    for team in teams:
        if team.organization_id != org.id:
            raise InviteError("Choose teams of this organization.", "teams")
    outcomes = []
    for given in parse_emails(emails):
        outcomes.append(_invite_one(org, inviter, given, role, teams, ip=ip, request_only=request_only))
    return outcomes


def _invite_one(
    org: Organization,
    inviter: User,
    given: str,
    role: str,
    teams: list[Team],
    *,
    ip: str | None,
    request_only: bool,
) -> Outcome:
    try:
        email = normalize_email(validate_email(given, check_deliverability=False).normalized)
    except EmailNotValidError:
        return Outcome(given, False, f"{given} is not a valid email address.")
    if len(email) > 254:
        return Outcome(given, False, f"{given} is too long to be an email address.")
    existing = _existing_for_email(org, email)
    if existing is not None:
        kind, row = existing
        if kind == "member":
            return Outcome(email, False, f"{email} is already a member of this organization.")
        if kind == "invited":
            return Outcome(email, False, f"{email} has already been invited.", resend_member_id=row.id)
        return Outcome(email, False, f"{email} has already asked to join; approve or reject the request.")
    wait = _take_invite_allowance(org.id, inviter.id, email)
    if wait:
        return Outcome(
            email,
            False,
            f"Too many invites were sent today; {email} was not invited. Try again tomorrow.",
            retry_after=wait,
        )

    member = OrganizationMember(
        organization_id=org.id,
        email=email,
        role=role,
        flags=0,
        inviter_id=inviter.id,
        invite_status=InviteStatus.REQUESTED_TO_BE_INVITED if request_only else InviteStatus.APPROVED,
    )
    raw = None if request_only else issue_token(member)
    try:
        with db.session.begin_nested():
            db.session.add(member)
            db.session.flush()
    except IntegrityError:
        # Another request invited this address between the check above and this insert (PostgreSQL
        # runs them side by side; the unique (organization, email) pair decides): the same answer.
        return Outcome(email, False, f"{email} has already been invited.")
    for team in teams:
        db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=member.id))
    db.session.flush()
    db.session.refresh(member)
    if request_only:
        audit.record(
            "invite-request.create",
            organization_id=org.id,
            actor=inviter,
            target_object=member.id,
            ip_address=ip,
            data=member_audit_data(member),
        )
        _notify_managers(org, "invite_request", member=member, requester=inviter)
        return Outcome(email, True, f"Asked the organization's managers to invite {email}.", member)
    assert raw is not None
    _invited(member, raw, inviter, ip=ip)
    return Outcome(email, True, f"Invited {email}.", member)


def _invited(member: OrganizationMember, raw: str, actor: User, *, ip: str | None) -> None:
    """An approved invite goes out: audit ``member.invite``, the onboarding task, the email, the counters."""
    audit.record(
        "member.invite",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    onboarding_tasks.record_pending(member.organization_id, "invite_member", actor.id)
    send_invite_email(member, raw, actor)
    buffer.incr(OrganizationInviteStats, {"invites_sent": 1}, {"organization_id": member.organization_id})
    on_commit(metrics.invite_sent)


def send_invite_email(member: OrganizationMember, raw: str, inviter: User | None) -> None:
    assert member.email is not None
    db.session.flush()  # the invite's id goes into the link and the delivery reference
    message = mail.queue_email(
        member.email,
        "invite",
        ref={"invite_member_id": member.id},
        org=member.organization,
        inviter=inviter,
        role=roles.BY_ID[member.role].name,
        url=invite_link(member.id, raw),
        expires_at=member.token_expires_at,
    )
    member.invite_email_id, member.invite_emailed_at = message.id, None


def _pending_invite(member: OrganizationMember) -> None:
    if not member.is_pending:
        raise InviteError("This member has already joined.")


def resend(member: OrganizationMember, actor: User, *, ip: str | None) -> None:
    """New token and expiry (which revives an expired invite), a new email, audit ``member.reinvite``."""
    _pending_invite(member)
    if not member.invite_approved:
        raise InviteError("Approve the request before sending an invite.")
    assert member.email is not None
    wait = _take_invite_allowance(member.organization_id, actor.id, member.email)
    if wait:
        # Otherwise resending would be a way around the daily limits (an address flooded with mail).
        raise InviteError(
            f"Too many invites were sent today; {member.email} was not sent another. Try again tomorrow.",
            status=429,
            retry_after=wait,
        )
    raw = issue_token(member)
    audit.record(
        "member.reinvite",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    send_invite_email(member, raw, actor)


def fresh_link(member: OrganizationMember, actor: User, *, ip: str | None) -> str:
    """A new link to hand over by other means (installs without mail). Earlier links stop working."""
    _pending_invite(member)
    if not member.invite_approved:
        raise InviteError("Approve the request before sending an invite.")
    raw = issue_token(member)
    member.flags |= LINK_COPIED
    audit.record(
        "member.invite-link",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data={"email": member.email},
    )
    return invite_link(member.id, raw)


def revoke(member: OrganizationMember, actor: User, *, ip: str | None) -> None:
    _pending_invite(member)
    audit.record(
        "member.revoke-invite",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    db.session.delete(member)


def approve(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> None:
    """Approve a request (spec §1.7 validate_invitation), then invite as usual."""
    _pending_invite(member)
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
    if member.role not in {r.id for r in roles.allowed_to_assign(actor_role)}:
        raise InviteError(
            f"You do not have permission to approve a member invitation with the role {member.role}."
        )
    member.invite_status = InviteStatus.APPROVED
    _invited(member, issue_token(member), actor, ip=ip)


def reject(member: OrganizationMember, actor: User, *, ip: str | None) -> None:
    _pending_invite(member)
    if member.invite_approved:
        raise InviteError("This invite is not a request; revoke it instead.")
    audit.record(
        "invite-request.remove",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    db.session.delete(member)


def join_requests_allowed(org: Organization) -> bool:
    return bool(options.get_value(org.id, JOIN_REQUESTS_OPTION, True))


def request_join(org: Organization, email: str, name: str, *, ip: str | None) -> None:
    """Someone outside asks to join. Always looks the same from outside (no enumeration of members)."""
    if not join_requests_allowed(org):
        raise InviteError("This organization does not accept requests to join.")
    normalized = normalize_email(email)
    if _existing_for_email(org, normalized) is not None:
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
    _notify_managers(org, "join_request", member=member, name=name)


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
    _notify_managers(member.organization, "invite_renewal", member=member)
    return True


def managers(org: Organization) -> list[User]:
    rows = db.session.scalars(
        select(User)
        .join(OrganizationMember, OrganizationMember.user_id == User.id)
        .where(
            OrganizationMember.organization_id == org.id,
            OrganizationMember.role.in_(["manager", "owner"]),
            User.is_active_flag.is_(True),
        )
    )
    return list(rows)


def _notify_managers(org: Organization, template: str, **ctx: Any) -> None:
    url = base_url() + f"/organizations/{org.slug}/members/"
    for manager in managers(org):
        mail.queue_email(manager.email, template, org=org, manager=manager, url=url, **ctx)


# --- the link ------------------------------------------------------------------------------------


class LinkState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # genuine link (token matches) whose invite has expired
    INVALID = "invalid"


def check_link(member_id: str | int, raw: str) -> tuple[LinkState, OrganizationMember | None]:
    """What a link is worth. Every kind of bad link gives INVALID and no member."""
    text = str(member_id)
    if not text.isdigit() or len(text) > 18 or not tokens.well_formed(raw):
        return LinkState.INVALID, None
    member = db.session.get(OrganizationMember, int(text))
    if (
        member is None
        or not member.is_pending
        or not member.invite_approved
        or not tokens.matches(raw, member.token_hash)
        or not member.organization.is_active
    ):
        return LinkState.INVALID, None
    if member.token_expired():
        return LinkState.EXPIRED, member
    return LinkState.VALID, member


class AcceptStatus(enum.Enum):
    ACCEPTED = "accepted"
    INVALID = "invalid"
    ALREADY_MEMBER = "already_member"
    EMAIL_MISMATCH = "email_mismatch"
    NEEDS_2FA = "needs_2fa"
    NEEDS_SSO = "needs_sso"


@dataclass
class AcceptResult:
    status: AcceptStatus
    member: OrganizationMember | None = None
    organization: Organization | None = None

    @property
    def ok(self) -> bool:
        return self.status is AcceptStatus.ACCEPTED


def email_matches(user: User, invited: str | None) -> bool:
    """The invite belongs to its address: the user's primary email, or a verified one of theirs."""
    if not invited:
        return False
    invited = normalize_email(invited)
    if normalize_email(user.email) == invited:
        return True
    return (
        db.session.scalar(
            select(UserEmail.id).where(
                UserEmail.user_id == user.id, UserEmail.email == invited, UserEmail.is_verified.is_(True)
            )
        )
        is not None
    )


def needs_sso(org: Organization, user: User | None) -> bool:
    provider = orgs.auth_provider_for(org)
    if provider is None or not provider.requires_sso:
        return False
    if user is None:
        return True
    return (
        db.session.scalar(
            select(AuthIdentity.id).where(
                AuthIdentity.auth_provider_id == provider.id, AuthIdentity.user_id == user.id
            )
        )
        is None
    )


def needs_2fa(org: Organization, user: User | None) -> bool:
    return org.has_flag(OrgFlags.REQUIRE_2FA) and (user is None or not user_has_2fa(user.id))


def accept(member_id: str | int, raw: str, user: User, *, ip: str | None) -> AcceptResult:
    """Accept the invite for ``user`` in the caller's transaction.

    The token is consumed by one conditional UPDATE, so of many simultaneous accepts exactly one wins
    and the rest see INVALID. Adds: the membership, audit ``member.accept-invite``, the member-joined
    outbox message, and (after commit) the buffered invite counter. An invite to an organization the
    user already belongs to is deleted.
    """
    state, member = check_link(member_id, raw)
    if state is not LinkState.VALID or member is None:
        return AcceptResult(AcceptStatus.INVALID)
    org = member.organization
    if orgs.get_membership(org, user) is not None:
        db.session.execute(
            delete(OrganizationMember).where(
                OrganizationMember.id == member.id, OrganizationMember.user_id.is_(None)
            )
        )
        log.info(
            "Pending org invite not accepted - User already org member (org %s, user %s)", org.id, user.id
        )
        return AcceptResult(AcceptStatus.ALREADY_MEMBER, organization=org)
    if not email_matches(user, member.email):
        return AcceptResult(AcceptStatus.EMAIL_MISMATCH, member, org)
    if needs_2fa(org, user):
        return AcceptResult(AcceptStatus.NEEDS_2FA, member, org)
    if needs_sso(org, user):
        return AcceptResult(AcceptStatus.NEEDS_SSO, member, org)

    return _consume(member, user, ip=ip)


def _consume(member: OrganizationMember, user: User, *, ip: str | None) -> AcceptResult:
    """Link ``user`` to the invite row with one conditional UPDATE on the token hash it still carries."""
    org = member.organization
    invited_email, inviter_id, token_hash = member.email, member.inviter_id, member.token_hash
    try:
        with db.session.begin_nested():
            won = db.session.execute(
                update(OrganizationMember)
                .where(
                    OrganizationMember.id == member.id,
                    OrganizationMember.user_id.is_(None),
                    OrganizationMember.token_hash == token_hash,
                    OrganizationMember.invite_status == InviteStatus.APPROVED,
                    OrganizationMember.token_expires_at > utcnow(),
                )
                .values(user_id=user.id, email=None, token_hash=None, token_expires_at=None)
                .returning(OrganizationMember.id)
                .execution_options(synchronize_session=False)
            ).first()
    except IntegrityError:
        # The same user joined this organization through another invite a moment ago.
        return AcceptResult(AcceptStatus.ALREADY_MEMBER, organization=org)
    if won is None:
        return AcceptResult(AcceptStatus.INVALID)
    db.session.refresh(member)
    db.session.execute(
        update(UserEmail)
        .where(UserEmail.user_id == user.id, UserEmail.email == invited_email)
        .values(is_verified=True)
    )
    audit.record(
        "member.accept-invite",
        organization_id=org.id,
        actor=user,
        target_object=member.id,
        target_user_id=user.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    schedule(
        MEMBER_JOINED,
        {
            "organization_id": org.id,
            "user_id": user.id,
            "organization_member_id": member.id,
            "inviter_id": inviter_id,
        },
    )
    buffer.incr(
        OrganizationInviteStats,
        {"invites_accepted": 1},
        {"organization_id": org.id},
        extra={"last_accepted_at": utcnow()},
    )
    on_commit(metrics.invite_accepted)
    return AcceptResult(AcceptStatus.ACCEPTED, member, org)


def accept_for_verified_email(
    org: Organization, user: User, verified_email: str, *, ip: str | None
) -> AcceptResult:
    """Single sign-on: accept for ``user`` the live invite to ``org`` addressed to ``verified_email``.

    ``verified_email`` must be the address the identity provider has just proven (its
    ``email_verified`` claim), which is what the emailed token would prove. The account's own email
    does not count here: it may never have been verified.
    """
    email = normalize_email(verified_email)
    if not email:
        return AcceptResult(AcceptStatus.INVALID)
    member = db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org.id,
            OrganizationMember.user_id.is_(None),
            OrganizationMember.email == email,
            OrganizationMember.invite_status == InviteStatus.APPROVED,
        )
    )
    if member is None or member.token_expired():
        return AcceptResult(AcceptStatus.INVALID)
    if orgs.get_membership(org, user) is not None:
        return AcceptResult(AcceptStatus.ALREADY_MEMBER, organization=org)
    if needs_2fa(org, user):
        return AcceptResult(AcceptStatus.NEEDS_2FA, member, org)
    return _consume(member, user, ip=ip)


def delete_expired(older_than: timedelta, *, batch: int = 500) -> int:
    """Remove invites whose link expired more than ``older_than`` ago (Sentry's ``delete_expired``).

    Until then an expired invite stays listed, and a resend revives it. Each removal is audited
    (actor: the system); at most ``batch`` per call, so a long backlog is taken in small transactions.
    Returns how many were removed; the caller commits.
    """
    threshold = utcnow() - older_than
    rows = db.session.scalars(
        select(OrganizationMember)
        .where(
            OrganizationMember.user_id.is_(None),
            OrganizationMember.email.is_not(None),
            OrganizationMember.invite_status == InviteStatus.APPROVED,
            OrganizationMember.token_expires_at < threshold,
        )
        .order_by(OrganizationMember.id)
        .limit(batch)
    ).all()
    removed = 0
    for member in rows:
        expired = member.token_expires_at
        data = {**member_audit_data(member), "expired": expired.isoformat() + "Z" if expired else None}
        # Conditional: an invite resent (or accepted) since the select above is no longer expired and stays.
        gone = db.session.execute(
            delete(OrganizationMember).where(
                OrganizationMember.id == member.id,
                OrganizationMember.user_id.is_(None),
                OrganizationMember.token_expires_at < threshold,
            )
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            continue
        removed += 1
        audit.record(
            "member.remove-expired-invite",
            organization_id=member.organization_id,
            actor_label="system",
            target_object=member.id,
            data=data,
        )
    return removed


@dataclass(frozen=True)
class EmailState:
    """How the email with an invite's current link is doing, for the pending-invite row."""

    state: str  # "sent", "queued", "failing", "copied"
    text: str
    problem: bool = False


def email_states(members: list[OrganizationMember]) -> dict[int, EmailState]:
    """The delivery state of each approved invite's current email (one query for those still waiting).

    "sent" means the mail server accepted it; a bounce reported later by the recipient's server is not
    seen here. Failed attempts show the server's error and the next try (the outbox retries with backoff).
    """
    waiting_ids = [m.invite_email_id for m in members if m.invite_email_id and m.invite_emailed_at is None]
    waiting = {}
    if waiting_ids:
        rows = db.session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(waiting_ids)))
        waiting = {row.id: row for row in rows}
    states: dict[int, EmailState] = {}
    for member in members:
        if not member.invite_approved:
            continue
        if member.invite_emailed_at is not None:
            states[member.id] = EmailState(
                "sent", f"Email sent {member.invite_emailed_at:%Y-%m-%d %H:%M} UTC"
            )
        elif member.flags & LINK_COPIED:
            states[member.id] = EmailState("copied", "Link copied to hand over; not emailed")
        elif member.invite_email_id is not None:
            row = waiting.get(member.invite_email_id)
            if row is None:
                states[member.id] = EmailState("sent", "Email sent")
            elif row.attempts:
                error = (row.last_error or "").split(": ", 1)[-1][:160]
                states[member.id] = EmailState(
                    "failing",
                    f"Email not delivered yet: {row.attempts} failed attempt(s), next try "
                    f"{row.scheduled_for:%H:%M} UTC. {error}".strip(),
                    problem=True,
                )
            else:
                states[member.id] = EmailState("queued", "Email queued")
    return states


def pending_invites(org: Organization) -> list[OrganizationMember]:
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .where(OrganizationMember.organization_id == org.id, OrganizationMember.user_id.is_(None))
            .order_by(OrganizationMember.date_added.desc(), OrganizationMember.id.desc())
        )
    )


def stats(org: Organization) -> OrganizationInviteStats | None:
    return db.session.get(OrganizationInviteStats, org.id)
