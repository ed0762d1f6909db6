"""What the stages of shareable invite links share: refusals, outcomes, the role rule, the joined
announcement."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from sqlalchemy import select

from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import normalize_email
from onboarding.extensions import db
from onboarding.invitelinks.models import InviteLink
from onboarding.invites import service as invites
from onboarding.orgs.models import Organization, OrganizationMember
from onboarding.outbox.service import schedule

MEMBER_JOINED = "member_joined"  # the outbox category the invite journey's receivers handle


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


def verified_addresses(user: User) -> list[str]:
    return [
        normalize_email(e)
        for e in db.session.scalars(
            select(UserEmail.email).where(UserEmail.user_id == user.id, UserEmail.is_verified.is_(True))
        )
    ]


def announce_joined(
    org: Organization, user: User, member: OrganizationMember, inviter_id: int | None
) -> None:
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
