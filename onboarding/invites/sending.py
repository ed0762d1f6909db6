"""Sending invites: invite one or many addresses, resend, hand over a fresh link, revoke.

Nothing here commits; each function says what it adds to the caller's transaction. Every action on an
invite follows the one role rule (:func:`~onboarding.invites.common.check_role`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.exc import IntegrityError

from onboarding import buffer, metrics, ratelimit
from onboarding.accounts.models import User
from onboarding.accounts.service import normalize_email
from onboarding.audit import service as audit
from onboarding.database import on_commit
from onboarding.extensions import db
from onboarding.invites.addresses import existing_for_email, match_key
from onboarding.invites.common import (
    LINK_COPIED,
    InviteError,
    check_role,
    invite_link,
    issue_token,
    member_audit_data,
    notify_managers,
    pending_only,
    send_invite_email,
)
from onboarding.invites.models import OrganizationInviteStats
from onboarding.orgs import onboarding_tasks, roles
from onboarding.orgs.models import (
    InviteStatus,
    Organization,
    OrganizationMember,
    OrganizationMemberTeam,
    Team,
)

DAY = 24 * 3600
LIMIT_PER_INVITER = ratelimit.Limit("invite:inviter", 100, DAY)
LIMIT_PER_ORG = ratelimit.Limit("invite:org", 100, DAY)
LIMIT_PER_EMAIL = ratelimit.Limit("invite:email", 10, DAY)


@dataclass
class Outcome:
    """What became of one address of an invite form: ``ok`` tells successes from failures."""

    email: str
    ok: bool
    message: str
    member: OrganizationMember | None = None
    resend_member_id: int | None = None
    retry_after: int = 0  # seconds until a daily limit allows this address again (0: not limited)


_SPLIT = re.compile(r"[\s,;]+")


def parse_emails(text: str | list[str]) -> list[str]:
    """Split on commas, semicolons, whitespace and newlines; keep the first of duplicate mailboxes
    (alias-aware: ``Bob+x@example.com`` duplicates ``bob@example.com``)."""
    raw = text if isinstance(text, list) else _SPLIT.split(text or "")
    seen: dict[str, str] = {}
    for item in raw:
        item = item.strip()
        if item and match_key(item) not in seen:
            seen[match_key(item)] = item
    return list(seen.values())


def take_invite_allowance(org_id: int, inviter_id: int, email: str) -> int:
    """Sentry's daily invite limits (per inviter, per organization, per mailbox and organization): the
    seconds until the spent ones allow another invite; otherwise 0, and this invite counts against all
    three. Every invite email counts; aliases of one mailbox share its allowance."""
    limits = (
        (LIMIT_PER_INVITER, str(inviter_id)),
        (LIMIT_PER_ORG, str(org_id)),
        (LIMIT_PER_EMAIL, f"{org_id}:{match_key(email)}"),
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
    """Invite each address (or, with ``request_only``, ask the managers to). One outcome per address;
    some may succeed while others fail.

    Adds to the transaction: the invite rows, their team links, audit entries, the invite emails (outbox)
    and the pending "invite a member" onboarding task. Raises InviteError for a bad role or team.
    """
    if request_only:
        if not roles.is_valid(role) or roles.rank(role) > roles.rank("manager"):
            raise InviteError("Choose a valid role.", "role")
    else:
        check_role(inviter_role, role)
    for team in teams:
        if team.organization_id != org.id:
            raise InviteError("Choose teams of this organization.", "teams")
    return [
        _invite_one(org, inviter, given, role, teams, ip=ip, request_only=request_only)
        for given in parse_emails(emails)
    ]


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
        checked = validate_email(given, check_deliverability=False)
    except EmailNotValidError:
        return Outcome(given, False, f"{given} is not a valid email address.")
    if checked.ascii_email is None:  # non-ASCII before the @: our mail cannot reach it (no SMTPUTF8)
        return Outcome(
            given, False, f"{given} cannot be invited: the part before the @ must use plain (ASCII) letters."
        )
    email = normalize_email(checked.ascii_email)
    if len(email) > 254:
        return Outcome(given, False, f"{given} is too long to be an email address.")
    existing = existing_for_email(org, email)
    if existing is not None:
        kind, row = existing
        known = row.get_email()
        alias = f" (as {known})" if known and known != email else ""  # the same mailbox, another spelling
        if kind == "member":
            return Outcome(email, False, f"{email} is already a member of this organization{alias}.")
        if kind == "invited":
            return Outcome(email, False, f"{email} has already been invited{alias}.", resend_member_id=row.id)
        return Outcome(
            email, False, f"{email} has already asked to join{alias}; approve or reject the request."
        )
    wait = take_invite_allowance(org.id, inviter.id, email)
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
        notify_managers(org, "invite_request", member=member, requester=inviter)
        return Outcome(email, True, f"Asked the organization's managers to invite {email}.", member)
    assert raw is not None
    invited(member, raw, inviter, ip=ip)
    return Outcome(email, True, f"Invited {email}.", member)


def invited(member: OrganizationMember, raw: str, actor: User, *, ip: str | None) -> None:
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
    _webhook("invite.created", member)
    send_invite_email(member, raw, actor)
    buffer.incr(OrganizationInviteStats, {"invites_sent": 1}, {"organization_id": member.organization_id})
    on_commit(metrics.invite_sent)


def resend(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> None:
    """New token and expiry (which revives an expired invite), a new email, audit ``member.reinvite``."""
    pending_only(member)
    check_role(actor_role, member.role, "resend")
    if not member.invite_approved:
        raise InviteError("Approve the request before sending an invite.")
    assert member.email is not None
    wait = take_invite_allowance(member.organization_id, actor.id, member.email)
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


def fresh_link(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> str:
    """A new link to hand over by other means (installs without mail). Earlier links stop working."""
    pending_only(member)
    check_role(actor_role, member.role, "resend")
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


def revoke(member: OrganizationMember, actor: User, actor_role: str, *, ip: str | None) -> None:
    """Delete a pending invite (audit ``member.revoke-invite``)."""
    pending_only(member)
    check_role(actor_role, member.role, "revoke")
    audit.record(
        "member.revoke-invite",
        organization_id=member.organization_id,
        actor=actor,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    db.session.delete(member)


def _webhook(event: str, member: OrganizationMember) -> None:
    """Tell the organization's webhooks, in this transaction (imported here: webhooks sits beside invites)."""
    from onboarding.webhooks.events import emit

    emit(event, member)
