"""Sending one delivery: sign, call the endpoint with no transaction held, record the attempt, back off.

A delivery row is its own durable retry record. An attempt first claims the row (a conditional UPDATE
that pushes ``next_attempt_at`` out by a lease), so one deliverer works on it at a time and a deliverer
killed mid-call leaves a lease that simply runs out; the periodic sweep then queues it again. Every
attempt sends the same body and ``webhook-id`` (receivers deduplicate on it); only
``webhook-timestamp`` and the signature are fresh. Errors and non-2xx answers are retried with
exponential backoff and jitter for a day from the first attempt; an endpoint that has failed for a
day is disabled and its owners are emailed.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import UTC, datetime, timedelta

import urllib3
from flask import current_app
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook

from onboarding import secretbox
from onboarding.database import on_commit, write_intent
from onboarding.extensions import db, utcnow
from onboarding.webhooks import guard
from onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint

log = logging.getLogger(__name__)

QUEUE = "webhooks"
SECRET_PURPOSE = "webhook signing secret"
RETRY_FOR = timedelta(days=1)
FIRST_RETRY = 30.0  # seconds; with jitter the first retry comes 15-30 s after the first failure
MAX_RETRY_DELAY = 2 * 3600.0
CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0  # for the whole answer, not per read
RESPONSE_CAP = 1024  # bytes of the answer kept (and read at all)
USER_AGENT = "Onboarding-Webhooks/1"
ENDPOINT_BUSY_DELAY = 2.0  # seconds a delivery waits while its endpoint answers another one


def retry_delay(attempts: int) -> float:
    """Seconds before the next attempt after ``attempts`` failed ones: doubling from 30 s up to 2 h,
    each drawn from the upper half of its step (jitter keeps endpoints that failed together apart)."""
    step = min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY_DELAY)
    return step / 2 + random.uniform(0, step / 2)  # noqa: S311 - jitter, not a secret


def sign(secret: str, webhook_id: str, timestamp: int, body: str) -> str:
    """``v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`` (Standard Webhooks)."""
    return Webhook(secret).sign(webhook_id, datetime.fromtimestamp(timestamp, UTC), body)


def enqueue(delivery_id: int, *, at: datetime | None = None) -> None:
    """Ask the ``webhooks`` queue for an attempt (now, or at ``at``); a dead Redis leaves it to the sweep."""
    from onboarding.queue import enqueue as enqueue_job
    from onboarding.queue import get_queue

    try:
        if at is None:
            enqueue_job("onboarding.tasks.deliver_webhook", delivery_id, queue=QUEUE)
        elif not current_app.config.get("JOBS_SYNC"):  # tests run later attempts themselves
            get_queue(QUEUE).enqueue_at(
                at.replace(tzinfo=UTC), "onboarding.tasks.deliver_webhook", delivery_id
            )
    except Exception as exc:  # noqa: BLE001 - the sweep queues due deliveries again
        log.warning("could not queue webhook delivery %s (%s); the sweep will", delivery_id, exc)


def enqueue_due(limit: int = 500) -> int:
    """The sweep's part: queue every delivery whose attempt is due (after a dead Redis or worker)."""
    ids = list(
        db.session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= utcnow()
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )
    db.session.rollback()
    for delivery_id in ids:
        enqueue(delivery_id)
    return len(ids)


def _claim(delivery_id: int) -> WebhookDelivery | None:
    now = utcnow()
    with write_intent(True):
        db.session.rollback()
        claimed = db.session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == delivery_id,
                WebhookDelivery.status == DeliveryStatus.PENDING,
                WebhookDelivery.next_attempt_at <= now,
            )
            .values(next_attempt_at=now + timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"]))
            .returning(WebhookDelivery.id)
        ).first()
        db.session.commit()
    return db.session.get(WebhookDelivery, delivery_id) if claimed else None


def attempt(delivery_id: int) -> bool:
    """Make one attempt at a due delivery; True when the endpoint answered 2xx."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return False  # delivered or given up already, not due, or another deliverer holds it
    endpoint = delivery.endpoint
    if not endpoint.enabled:
        return _record(delivery_id, None, None, "The endpoint is disabled.")
    if not _take_endpoint(endpoint.id, delivery_id):
        _wait_for_endpoint(delivery_id)
        return False
    try:
        return _send(delivery, endpoint)
    finally:
        _free_endpoint(endpoint.id, delivery_id)


def _busy_key(endpoint_id: int) -> str:
    return f"onboarding:webhook-endpoint-busy:{endpoint_id}"


def _take_endpoint(endpoint_id: int, delivery_id: int) -> bool:
    """One attempt per endpoint at a time, across workers: a slow endpoint takes one worker thread, and
    the other endpoints' deliveries go on. (Redis down: no limit; the deliveries are still leased.)"""
    from onboarding.redisconn import get_redis

    try:
        lease = current_app.config["OUTBOX_LEASE_SECONDS"]
        return bool(get_redis().set(_busy_key(endpoint_id), delivery_id, nx=True, ex=lease))
    except Exception:  # noqa: BLE001
        log.warning("could not take the webhook endpoint %s's turn; sending anyway", endpoint_id)
        return True


def _free_endpoint(endpoint_id: int, delivery_id: int) -> None:
    from onboarding.redisconn import get_redis

    try:
        redis = get_redis()
        if redis.get(_busy_key(endpoint_id)) == str(delivery_id).encode():
            redis.delete(_busy_key(endpoint_id))
    except Exception:  # noqa: BLE001 - the key expires with the lease
        log.debug("could not free the webhook endpoint %s's turn", endpoint_id)


def _wait_for_endpoint(delivery_id: int) -> None:
    """The endpoint is busy with another delivery: this one tries again in a moment (not an attempt)."""
    due = utcnow() + timedelta(seconds=ENDPOINT_BUSY_DELAY)
    with write_intent(True):
        db.session.rollback()
        db.session.execute(
            update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(next_attempt_at=due)
        )
        db.session.commit()
    enqueue(delivery_id, at=due)


def _send(delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> bool:
    delivery_id = delivery.id
    secret = secretbox.unseal(endpoint.secret, SECRET_PURPOSE)
    url, webhook_id, body = endpoint.url, delivery.webhook_id, delivery.body
    with write_intent(False):
        db.session.rollback()  # nothing is held while the endpoint takes its time
    timestamp = int(time.time())
    headers = {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret, webhook_id, timestamp, body),
    }
    try:
        target = guard.check(url, allow_private=current_app.config["WEBHOOK_ALLOW_PRIVATE"])
        status, first_bytes = post(target, headers, body.encode())
    except guard.UnsafeURL as exc:
        return _record(delivery_id, None, None, str(exc))
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        return _record(delivery_id, None, None, _describe(exc))
    return _record(delivery_id, status, first_bytes, None)


def post(target: guard.Target, headers: dict[str, str], body: bytes) -> tuple[int, str]:
    """POST to the vetted address (the URL's host still names the site: Host header, SNI, certificate);
    no redirects followed, no retries here, the answer read up to :data:`RESPONSE_CAP` bytes."""
    timeout = urllib3.Timeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT)
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            timeout=timeout,
            retries=False,
            server_hostname=target.host,
            assert_hostname=target.host,
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, timeout=timeout, retries=False)
    default_port = 443 if target.scheme == "https" else 80
    host = f"[{target.host}]" if ":" in target.host else target.host
    headers = {**headers, "host": host if target.port == default_port else f"{host}:{target.port}"}
    deadline = time.monotonic() + CONNECT_TIMEOUT + READ_TIMEOUT
    with pool:
        response = pool.urlopen(
            "POST",
            target.path,
            body=body,
            headers=headers,
            redirect=False,
            retries=False,
            preload_content=False,
            assert_same_host=False,
        )
        try:
            data = b""
            while len(data) < RESPONSE_CAP and time.monotonic() < deadline:
                chunk = response.read(min(256, RESPONSE_CAP - len(data)))
                if not chunk:
                    break
                data += chunk
        finally:
            response.close()
    return response.status, data.decode("utf-8", "replace")


def _describe(exc: Exception) -> str:
    # (urllib3's NewConnectionError is a kind of ConnectTimeoutError: ask for it first.)
    if isinstance(exc, urllib3.exceptions.NewConnectionError | ConnectionError):
        return "Could not connect to the endpoint."
    if isinstance(exc, urllib3.exceptions.TimeoutError | TimeoutError):
        return "The endpoint did not answer in time."
    if isinstance(exc, urllib3.exceptions.SSLError):
        return f"The endpoint's TLS certificate was refused: {exc}"[:500]
    return f"{type(exc).__name__}: {exc}"[:500]


def _record(delivery_id: int, status: int | None, first_bytes: str | None, error: str | None) -> bool:
    """Write the attempt's outcome; schedule the next one or give up; disable an endpoint failing a day."""
    from onboarding.webhooks import service

    ok = status is not None and 200 <= status < 300
    with write_intent(True):
        db.session.rollback()
        delivery = db.session.get(WebhookDelivery, delivery_id)
        if delivery is None:  # its endpoint was deleted meanwhile
            db.session.rollback()
            return ok
        endpoint = delivery.endpoint
        now = utcnow()
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.response_status = status
        delivery.response_body = first_bytes
        delivery.last_error = error
        if ok:
            delivery.status = DeliveryStatus.DELIVERED
            endpoint.failing_since = None
        else:
            if endpoint.enabled and endpoint.failing_since is None:
                endpoint.failing_since = now
            give_up_at = delivery.series_started_at + RETRY_FOR
            if not endpoint.enabled or now >= give_up_at:
                delivery.status = DeliveryStatus.FAILED
            else:
                delivery.next_attempt_at = min(
                    now + timedelta(seconds=retry_delay(delivery.attempts)), give_up_at
                )
                due = delivery.next_attempt_at
                on_commit(lambda: enqueue(delivery_id, at=due))
            if (
                endpoint.enabled
                and endpoint.failing_since is not None
                and now - endpoint.failing_since >= RETRY_FOR
            ):
                service.disable_failing(endpoint)
        db.session.commit()
    return ok
