"""Reading invites: an organization's pending invites and their email state, and a user's inbox.

Nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from onboarding import buffer
from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.invites.addresses import addresses_of
from onboarding.invites.common import LINK_COPIED
from onboarding.invites.models import OrganizationInviteStats
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember, OrgStatus
from onboarding.outbox.models import OutboxMessage


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
            sent = _sent()
            at = f"{member.invite_emailed_at:%Y-%m-%d %H:%M} UTC"
            states[member.id] = EmailState(
                "sent", f"{sent}, {at}" if sent != "Email sent" else f"{sent} {at}"
            )
        elif member.flags & LINK_COPIED:
            states[member.id] = EmailState("copied", "Link copied to hand over; not emailed")
        elif member.invite_email_id is not None:
            row = waiting.get(member.invite_email_id)
            if row is None:
                states[member.id] = EmailState("sent", _sent())
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


@dataclass(frozen=True)
class InviteCounts:
    invites_sent: int
    invites_accepted: int


def stats(org: Organization) -> InviteCounts | None:
    """The organization's invite counters as of now: the flushed row plus what the buffer still holds
    (counted right after the action, not only after the next flush); None before the first invite."""
    row = db.session.get(OrganizationInviteStats, org.id)
    waiting = buffer.pending(OrganizationInviteStats, {"organization_id": org.id})
    if row is None and not waiting:
        return None
    return InviteCounts(
        invites_sent=(row.invites_sent if row else 0) + waiting.get("invites_sent", 0),
        invites_accepted=(row.invites_accepted if row else 0) + waiting.get("invites_accepted", 0),
    )


def inbox(user: User) -> list[OrganizationMember]:
    """Every live invite addressed to one of ``user``'s addresses (primary or verified), in any active
    organization, newest first. Only exact addresses count: an alias is not proof of a mailbox."""
    return list(
        db.session.scalars(
            select(OrganizationMember)
            .join(Organization, Organization.id == OrganizationMember.organization_id)
            .where(
                OrganizationMember.user_id.is_(None),
                OrganizationMember.email.in_(addresses_of(user)),
                OrganizationMember.invite_status == InviteStatus.APPROVED,
                OrganizationMember.token_hash.is_not(None),
                OrganizationMember.token_expires_at > utcnow(),
                Organization.status == OrgStatus.ACTIVE,
            )
            .order_by(OrganizationMember.date_added.desc(), OrganizationMember.id.desc())
        )
    )


def _sent() -> str:
    """ "Email sent", or where it went when no mail server is configured."""
    from onboarding.mail import where_mail_goes

    where = where_mail_goes()
    return f"Email {where}" if where else "Email sent"
