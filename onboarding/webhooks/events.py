"""The one way a change announces itself to webhooks: :func:`emit`, called in the change's transaction.

``emit("member.joined", member)`` adds an outbox message to the caller's transaction (so nothing is
sent for a change that rolled back, and nothing is lost when Redis or a worker dies); after commit the
outbox's webhook receiver turns it into one delivery per subscribed endpoint. The payload is built now,
while the row still exists (``member.removed`` and ``invite.declined`` are emitted before the delete).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onboarding.extensions import db, utcnow
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember
from onboarding.outbox.service import schedule
from onboarding.webhooks.models import WebhookEndpoint

CATEGORY = "webhook"
EVENTS = {
    "member.joined": "A member joined the organization",
    "member.removed": "A member was removed or left",
    "member.role-changed": "A member's role changed",
    "invite.created": "An invite was sent",
    "invite.accepted": "An invite was accepted",
    "invite.declined": "An invite was declined",
}
TEST_EVENT = "webhook.test"


def iso(dt: Any) -> str | None:
    return dt.isoformat(timespec="milliseconds") + "Z" if dt is not None else None


def organization_shape(org: Organization) -> dict[str, Any]:
    return {"id": str(org.id), "slug": org.slug, "name": org.name}


def member_shape(member: OrganizationMember) -> dict[str, Any]:
    """The API's member shape (contract: JSON API)."""
    user = member.user
    return {
        "id": str(member.id),
        "email": member.get_email(),
        "name": user.name if user else member.email,
        "role": member.role,
        "pending": member.is_pending,
        "expired": bool(member.is_pending and member.invite_approved and member.token_expired(utcnow())),
        "inviteStatus": InviteStatus(member.invite_status).api_name,
        "teams": sorted(t.slug for t in member.teams),
        "user": {"id": str(user.id), "email": user.email, "name": user.name} if user else None,
        "dateCreated": iso(member.date_added),
    }


def subscribed(organization_id: int, event: str) -> bool:
    """Whether any enabled endpoint of the organization listens for ``event``."""
    events = db.session.scalars(
        select(WebhookEndpoint.events).where(
            WebhookEndpoint.organization_id == organization_id, WebhookEndpoint.disabled_at.is_(None)
        )
    )
    return any(event in (listed or []) for listed in events)


def emit(event: str, member: OrganizationMember) -> None:
    """Announce ``event`` about ``member`` (a membership, or an invite for ``invite.*``) to the
    organization's webhooks, in the caller's transaction. Does nothing when no endpoint listens."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    org = member.organization
    if not subscribed(org.id, event):
        return
    kind = event.split(".", 1)[0]  # "member" or "invite"
    data = {"organization": organization_shape(org), kind: member_shape(member)}
    schedule(CATEGORY, {"type": event, "timestamp": iso(utcnow()), "organization_id": org.id, "data": data})
