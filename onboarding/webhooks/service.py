"""Webhook endpoints: adding (the secret shown once), listing, deleting, test events, redelivery, and
turning an outbox event into one delivery per subscribed endpoint. Nothing here commits."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, select

from onboarding import secretbox
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.database import on_commit
from onboarding.extensions import db, utcnow
from onboarding.orgs import roles
from onboarding.orgs.models import Organization, OrganizationMember
from onboarding.outbox import mail
from onboarding.outbox.service import schedule
from onboarding.webhooks import delivery, guard
from onboarding.webhooks.events import CATEGORY, EVENTS, TEST_EVENT, iso, organization_shape
from onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

MAX_ENDPOINTS = 20
RECENT = 50  # deliveries shown on an endpoint's page
KEEP_DELIVERIES = timedelta(days=30)  # finished deliveries older than this are pruned hourly


class WebhookError(Exception):
    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message, self.field = message, field


def new_secret() -> str:
    """``whsec_`` and 32 random bytes in base64 (the Standard Webhooks secret format)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def endpoints_for(org: Organization) -> list[WebhookEndpoint]:
    return list(
        db.session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organization_id == org.id)
            .order_by(WebhookEndpoint.id)
        )
    )


def get_endpoint(org: Organization, endpoint_id: int) -> WebhookEndpoint | None:
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    return endpoint if endpoint is not None and endpoint.organization_id == org.id else None


def recent_deliveries(endpoint: WebhookEndpoint, limit: int = RECENT) -> list[WebhookDelivery]:
    return list(
        db.session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def create_endpoint(
    org: Organization, url: str, events: list[str], actor: User, *, ip: str | None
) -> tuple[WebhookEndpoint, str]:
    """Add an endpoint; returns it and its plain secret (shown once). Raises :class:`WebhookError` on
    ``url`` (not http(s), or a loopback/private/link-local/metadata address — the SSRF guard) or
    ``events``. Audited ``webhook.create``."""
    url = url.strip()
    unknown = [e for e in events if e not in EVENTS]
    if not events or unknown:
        raise WebhookError("Choose at least one event.", "events")
    if len(url) > 2048:
        raise WebhookError("The URL is too long.", "url")
    try:
        guard.check(url, allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except guard.UnsafeURL as exc:
        raise WebhookError(str(exc), "url") from None
    if len(endpoints_for(org)) >= MAX_ENDPOINTS:
        raise WebhookError(f"An organization can have at most {MAX_ENDPOINTS} endpoints.", "url")
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organization_id=org.id,
        url=url,
        events=[e for e in EVENTS if e in events],
        secret=secretbox.seal(secret, delivery.SECRET_PURPOSE),
        created_by_id=actor.id,
    )
    db.session.add(endpoint)
    db.session.flush()
    _audit("webhook.create", endpoint, actor, ip)
    return endpoint, secret


def delete_endpoint(endpoint: WebhookEndpoint, actor: User, *, ip: str | None) -> None:
    """Remove an endpoint with its delivery log (pending attempts stop). Audited ``webhook.remove``."""
    _audit("webhook.remove", endpoint, actor, ip)
    db.session.delete(endpoint)
    db.session.flush()


def enable(endpoint: WebhookEndpoint, actor: User, *, ip: str | None) -> None:
    """Turn a disabled endpoint back on (its failure clock starts again). Audited ``webhook.enable``."""
    endpoint.disabled_at = None
    endpoint.failing_since = None
    _audit("webhook.enable", endpoint, actor, ip)


def _audit(event: str, endpoint: WebhookEndpoint, actor: User, ip: str | None) -> None:
    audit.record(
        event,
        organization_id=endpoint.organization_id,
        actor=actor,
        target_object=endpoint.id,
        ip_address=ip,
        data={"url": endpoint.url, "events": endpoint.events},  # never the secret
    )


def send_test(endpoint: WebhookEndpoint) -> None:
    """A ``webhook.test`` event for this endpoint alone, through the outbox like any other."""
    org = db.session.get(Organization, endpoint.organization_id)
    assert org is not None
    data = {"organization": organization_shape(org), "message": "A test event from Onboarding."}
    schedule(
        CATEGORY,
        {
            "type": TEST_EVENT,
            "timestamp": iso(utcnow()),
            "organization_id": org.id,
            "endpoint_id": endpoint.id,
            "data": data,
        },
    )


def redeliver(endpoint: WebhookEndpoint, delivery_id: int) -> WebhookDelivery | None:
    """Send a delivery again (same body and ``webhook-id``), with a fresh day of retries."""
    found = db.session.get(WebhookDelivery, delivery_id)
    if found is None or found.endpoint_id != endpoint.id:
        return None
    now = utcnow()
    found.status = DeliveryStatus.PENDING
    found.series_started_at = found.next_attempt_at = now
    on_commit(lambda: delivery.enqueue(delivery_id))
    return found


def fan_out(payload: dict[str, Any]) -> list[int]:
    """The outbox receiver's work: one delivery per enabled endpoint listening for the event (a test
    event: its one endpoint); each is queued after commit. Runs once per message (the outbox's receipt)."""
    event = payload["type"]
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.organization_id == payload["organization_id"], WebhookEndpoint.disabled_at.is_(None)
    )
    if event == TEST_EVENT:
        query = query.where(WebhookEndpoint.id == payload["endpoint_id"])
    body = json.dumps(
        {"type": event, "timestamp": payload["timestamp"], "data": payload["data"]}, separators=(",", ":")
    )
    ids = []
    for endpoint in db.session.scalars(query.order_by(WebhookEndpoint.id)):
        if event != TEST_EVENT and event not in (endpoint.events or []):
            continue
        row = WebhookDelivery(
            endpoint_id=endpoint.id,
            webhook_id="msg_" + secrets.token_urlsafe(18),
            event_type=event,
            body=body,
        )
        db.session.add(row)
        db.session.flush()
        ids.append(row.id)
    for delivery_id in ids:
        on_commit(lambda delivery_id=delivery_id: delivery.enqueue(delivery_id))  # type: ignore[misc]
    return ids


def disable_failing(endpoint: WebhookEndpoint) -> None:
    """An endpoint failing for a day stops receiving; its owners are emailed (through the outbox)."""
    endpoint.disabled_at = utcnow()
    org = db.session.get(Organization, endpoint.organization_id)
    assert org is not None
    owners = db.session.scalars(
        select(User)
        .join(OrganizationMember, OrganizationMember.user_id == User.id)
        .where(OrganizationMember.organization_id == org.id, OrganizationMember.role == roles.TOP_ROLE)
    )
    base = str(current_app.config.get("BASE_URL") or "http://127.0.0.1:5000")
    settings_url = f"{base}/organizations/{org.slug}/settings/webhooks/{endpoint.id}/"
    for owner in owners:
        if owner.is_active:
            mail.queue_email(
                owner.email, "webhook_disabled", org=org, endpoint=endpoint, settings_url=settings_url
            )
    audit.record(
        "webhook.disable",
        organization_id=org.id,
        target_object=endpoint.id,
        data={"url": endpoint.url, "reason": "failing for a day"},
    )


def prune_deliveries(older_than: timedelta = KEEP_DELIVERIES) -> int:
    """Delete delivered or given-up deliveries created before ``older_than`` ago; pending ones stay."""
    result = db.session.execute(
        delete(WebhookDelivery).where(
            WebhookDelivery.status != DeliveryStatus.PENDING,
            WebhookDelivery.created_at < utcnow() - older_than,
        )
    )
    return result.rowcount or 0  # type: ignore[attr-defined]
