"""What every stage of the invite journey shares: the refusal type, links and tokens, the audit shape,
the one role rule, and mail to an organization's managers.

Nothing here commits; each function says what it adds to the caller's transaction.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.invites import tokens
from onboarding.orgs import roles
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember
from onboarding.outbox import mail

log = logging.getLogger(__name__)

INVALID_LINK = "The invite link you followed is not valid, or has expired."
RENEWAL_REQUESTED = 1 << 8  # OrganizationMember.flags: the invitee asked for a fresh link
LINK_COPIED = 1 << 9  # OrganizationMember.flags: the current link was copied to hand over, not emailed


class InviteError(Exception):
    """A refusal meant for the person; ``field`` names the form field it belongs to, if any."""

    def __init__(
        self, message: str, field: str | None = None, *, status: int | None = None, retry_after: int = 0
    ) -> None:
        super().__init__(message)
        self.field = field
        # An HTTP status when not the usual 400 (403: the role rule; 429: a rate limit).
        self.status = status
        self.retry_after = retry_after  # seconds, for a rate limit


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


def send_invite_email(member: OrganizationMember, raw: str, inviter: User | None) -> None:
    """Queue the invite email (outbox) with the link carrying ``raw``."""
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


# --- the audit shape and the role rule -----------------------------------------------------------


def member_audit_data(member: OrganizationMember) -> dict[str, Any]:
    """Sentry's ``get_audit_log_data()`` shape."""
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


def check_role(actor_role: str, role: str, action: str = "invite") -> None:
    """The one role rule for every action on an invite (invite, resend, revoke, approve, reject, link):
    the actor may act on an invite only for a role they may assign themselves (managers: up to manager;
    owners: every role). Raises :class:`InviteError` with status 403 otherwise."""
    if not roles.is_valid(role):
        raise InviteError("Choose a valid role.", "role")
    if role not in {r.id for r in roles.allowed_to_assign(actor_role)}:
        what = "a member" if action == "invite" else "a member invitation"
        raise InviteError(
            f"You do not have permission to {action} {what} with the role {role}.", "role", status=403
        )


def pending_only(member: OrganizationMember) -> None:
    if not member.is_pending:
        raise InviteError("This member has already joined.")


# --- managers ------------------------------------------------------------------------------------


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


def notify_managers(org: Organization, template: str, **ctx: Any) -> None:
    """Queue ``template`` (outbox) to every active manager and owner of ``org``."""
    url = base_url() + f"/organizations/{org.slug}/members/"
    for manager in managers(org):
        mail.queue_email(manager.email, template, org=org, manager=manager, url=url, **ctx)
