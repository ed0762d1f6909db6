"""Receivers of outbox messages. Each is idempotent by (message id, receiver name) — see service.py."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from onboarding import mail
from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.orgs import onboarding_tasks
from onboarding.orgs.models import Organization, OrganizationMember
from onboarding.outbox.mail import schedule_email
from onboarding.outbox.service import receiver

MEMBER_JOINED = "member_joined"


@receiver("email", "smtp", external=True)
def send_email(payload: dict[str, Any], message_id: int) -> None:
    message = mail.unseal(payload)
    stable_id = mail.outbox_message_id(message_id, payload)
    mail.deliver(
        mail.build_message(
            message["to"], message["subject"], message["text"], message.get("html"), message_id=stable_id
        )
    )


@receiver("email", "invite_delivery")
def record_invite_delivery(payload: dict[str, Any], message_id: int) -> None:
    """After the mail server took an invite email: shown on the pending invite, but only if this email
    still carries the invite's current link."""
    invite_id = (payload.get("ref") or {}).get("invite_member_id")
    if invite_id:
        db.session.execute(
            update(OrganizationMember)
            .where(OrganizationMember.id == invite_id, OrganizationMember.invite_email_id == message_id)
            .values(invite_emailed_at=utcnow())
        )


@receiver(MEMBER_JOINED, "onboarding_task")
def complete_invite_task(payload: dict[str, Any], message_id: int) -> None:
    """Complete the organization's "invite a member" task (Sentry's record_member_joined)."""
    del message_id
    onboarding_tasks.complete(
        payload["organization_id"],
        "invite_member",
        {"invited_member_id": payload["organization_member_id"]},
    )


@receiver(MEMBER_JOINED, "notify_inviter")
def notify_inviter(payload: dict[str, Any], message_id: int) -> None:
    """Tell whoever sent the invite that it was accepted (as an email message of its own)."""
    del message_id
    inviter_id = payload.get("inviter_id")
    if not inviter_id:
        return
    inviter = db.session.get(User, inviter_id)
    org = db.session.get(Organization, payload["organization_id"])
    joined = db.session.get(User, payload["user_id"])
    if inviter is None or org is None or joined is None or not inviter.is_active:
        return
    still_member = db.session.scalar(
        select(OrganizationMember.id).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.user_id == inviter.id
        )
    )
    if still_member is None:
        return
    subject, text, html = mail.render_email("member_joined", org=org, joined=joined, inviter=inviter)
    schedule_email(inviter.email, subject, text, html)


@receiver("password_reset", "send_link")
def send_password_reset(payload: dict[str, Any], message_id: int) -> None:
    """A forgotten-password request: issue a link and queue its email, if an active account has the
    address (both commit with this receiver's receipt, so the link is made once)."""
    del message_id
    from onboarding.selfservice.service import send_password_reset as send

    send(payload["email"])


@receiver("buffer_incr", "apply")
def apply_buffered(payload: dict[str, Any], message_id: int) -> None:
    """Counters that could not reach Redis are applied from here instead."""
    del message_id
    from onboarding import buffer

    buffer.apply(payload["table"], payload["columns"], payload["filters"], payload.get("extra"))


@receiver("webhook", "webhook_deliveries")
def fan_out_webhook(payload: dict[str, Any], message_id: int) -> None:
    """A member or invite event becomes one delivery per subscribed endpoint (onboarding.webhooks)."""
    del message_id
    from onboarding.webhooks import service as webhooks

    webhooks.fan_out(payload)
