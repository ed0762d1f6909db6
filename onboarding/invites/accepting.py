"""Accepting and declining: what a link is worth, who may use it, and the one-UPDATE consumption.

An invite belongs to its address: the address is checked before anything else, so nobody but the
invited address's owner changes or deletes it (contract, "An invite belongs to its address").
Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

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
from onboarding.invites.addresses import email_matches
from onboarding.invites.common import base_url, member_audit_data
from onboarding.invites.models import OrganizationInviteStats
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthIdentity, InviteStatus, Organization, OrganizationMember, OrgFlags
from onboarding.outbox import mail
from onboarding.outbox.receivers import MEMBER_JOINED
from onboarding.outbox.service import schedule
from onboarding.twofactor.service import user_has_2fa

log = logging.getLogger(__name__)


class LinkState(enum.Enum):
    VALID = "valid"
    EXPIRED = "expired"  # genuine link (token matches) whose invite has expired
    INVALID = "invalid"


def _guess_limit() -> ratelimit.Limit:
    cfg = current_app.config
    return ratelimit.Limit(
        "invite-link:ip", cfg["INVITE_LINK_FAILURES_PER_IP"], cfg["INVITE_LINK_FAILURE_WINDOW"]
    )


def link_guess_wait(ip: str | None) -> int:
    """Seconds ``ip`` must wait after too many invalid invite links (0: go on). Checked before any
    database work; only invalid links count, so the real link keeps working for everyone else."""
    return ratelimit.retry_after(_guess_limit(), ip) if ip else 0


def count_link_guess(ip: str | None) -> None:
    if ip:
        ratelimit.hit(_guess_limit(), ip)


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


def live_invite(member_id: int | str) -> OrganizationMember | None:
    """An approved, unexpired, pending invite of an active organization, by id (no token: the caller
    proves the address another way, e.g. the inbox of a signed-in owner of the address)."""
    text = str(member_id)
    if not text.isdigit() or len(text) > 18:
        return None
    member = db.session.get(OrganizationMember, int(text))
    if (
        member is None
        or not member.is_pending
        or not member.invite_approved
        or member.token_hash is None
        or member.token_expired()
        or not member.organization.is_active
    ):
        return None
    return member


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

    The address comes first: an invite to an address that is not ``user``'s gives EMAIL_MISMATCH and
    nothing changes (also when ``user`` is already a member). The token is consumed by one conditional
    UPDATE, so of many simultaneous accepts exactly one wins and the rest see INVALID. Adds: the
    membership, audit ``member.accept-invite``, the member-joined outbox message, and (after commit) the
    buffered invite counter. The owner of the address who already belongs to the organization has the
    invite deleted (Sentry's clean-up) and gets ALREADY_MEMBER.
    """
    state, member = check_link(member_id, raw)
    if state is not LinkState.VALID or member is None:
        return AcceptResult(AcceptStatus.INVALID)
    return accept_as_owner(member, user, ip=ip)


def accept_as_owner(member: OrganizationMember, user: User, *, ip: str | None) -> AcceptResult:
    """:func:`accept` for an invite already known to be live (a checked link, or the inbox)."""
    org = member.organization
    if not email_matches(user, member.email):
        return AcceptResult(AcceptStatus.EMAIL_MISMATCH, member, org)
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
    _webhook("invite.accepted", member)
    _webhook("member.joined", member)
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


def decline(member: OrganizationMember, user: User | None, *, ip: str | None) -> None:
    """The invitee says no: the invite is removed, its inviter emailed (outbox), ``member.decline-invite``
    audited. ``user`` is the signed-in owner of the address, or None for a signed-out holder of the link
    (the link is the proof). The caller has checked the address; nothing here does."""
    org = member.organization
    audit.record(
        "member.decline-invite",
        organization_id=org.id,
        actor=user,
        actor_label=None if user is not None else member.email,
        target_object=member.id,
        ip_address=ip,
        data=member_audit_data(member),
    )
    inviter = member.inviter
    if inviter is not None and inviter.is_active:
        mail.queue_email(
            inviter.email,
            "invite_declined",
            org=org,
            inviter=inviter,
            email=member.email,
            url=base_url() + f"/organizations/{org.slug}/members/",
        )
    _webhook("invite.declined", member)  # built now, while the invite still exists
    db.session.execute(
        delete(OrganizationMember).where(
            OrganizationMember.id == member.id, OrganizationMember.user_id.is_(None)
        )
    )


def _webhook(event: str, member: OrganizationMember) -> None:
    """Tell the organization's webhooks, in this transaction (imported here: webhooks sits beside invites)."""
    from onboarding.webhooks.events import emit

    emit(event, member)
