"""Webhook deliveries against a real HTTP receiver on loopback: Standard Webhooks signatures, the body,
retries with the same webhook-id and backoff, timeouts, no redirects, giving up after a day."""

from __future__ import annotations

import json
import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook

from onboarding.database import write_intent
from onboarding.extensions import db, utcnow
from onboarding.members import service as members
from onboarding.outbox import service as outbox
from onboarding.outbox.models import OutboxMessage
from onboarding.webhooks import delivery
from onboarding.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from tests.factories import make_member, make_user, sent_mail
from tests.webhook_helpers import Answer, Receiver, add_endpoint, assert_signed, owner_and_org


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}  # the receiver listens on loopback


def _promote(org, owner, email="ada@example.com"):
    member = make_member(org, make_user(email), role="member")
    with write_intent(True):
        members.edit_member(org, member, owner, "owner", role="manager")
        db.session.commit()
    return member


def _only_delivery() -> WebhookDelivery:
    db.session.rollback()
    rows = db.session.scalars(select(WebhookDelivery)).all()
    assert len(rows) == 1
    return rows[0]


def _make_due(row: WebhookDelivery) -> None:
    row.next_attempt_at = utcnow() - timedelta(seconds=1)
    db.session.commit()


def test_event_is_signed_and_shaped(app):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)
        member = _promote(org, owner)
    assert len(receiver.received) == 1
    got = receiver.received[0]
    assert_signed(secret, got)  # an independent HMAC-SHA256 over "<id>.<timestamp>.<body>"
    assert Webhook(secret).verify(got.body, got.headers)["type"] == "member.role-changed"
    assert got.headers["webhook-id"].startswith("msg_")
    assert abs(int(got.headers["webhook-timestamp"]) - time.time()) < 60
    assert got.headers["content-type"] == "application/json"
    assert "sentry-trace" not in got.headers and "baggage" not in got.headers  # nothing internal leaks
    body = json.loads(got.body)
    assert set(body) == {"type", "timestamp", "data"}
    assert body["timestamp"].endswith("Z")
    assert body["data"]["organization"] == {"id": str(org.id), "slug": "acme", "name": "Acme"}
    shown = body["data"]["member"]
    assert (
        shown["id"] == str(member.id) and shown["role"] == "manager" and shown["email"] == "ada@example.com"
    )
    assert set(shown) == {
        "id", "email", "name", "role", "pending", "expired", "inviteStatus", "teams", "user", "dateCreated"
    }  # fmt: skip
    row = _only_delivery()
    assert (row.status, row.attempts, row.response_status) == (DeliveryStatus.DELIVERED, 1, 200)
    assert row.response_body == '{"ok":true}'
    assert row.webhook_id == got.headers["webhook-id"]


def test_only_subscribed_events_and_only_after_commit(app):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        add_endpoint(org, owner, receiver.url, ["member.removed"])
        _promote(org, owner)  # role-changed: not subscribed, so not even written to the outbox
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
        victim = make_member(org, make_user("bob@example.com"))
        with write_intent(True):
            members.remove_member(org, victim, owner, "owner")
            db.session.rollback()  # the change rolled back: nothing is sent
        assert receiver.received == []
        with write_intent(True):
            members.remove_member(org, db.session.merge(victim), owner, "owner")
            db.session.commit()
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["member.removed"]
    assert json.loads(receiver.received[0].body)["data"]["member"]["email"] == "bob@example.com"


def test_retries_keep_the_webhook_id_and_back_off(app):
    org, owner = owner_and_org()
    with Receiver(Answer(500, b"boom"), Answer(503, b"busy")) as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)
        _promote(org, owner)
        row = _only_delivery()
        assert (row.status, row.attempts, row.response_status, row.response_body) == (
            "pending",
            1,
            500,
            "boom",
        )
        first_wait = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        assert 15 <= first_wait <= 60  # the first retry comes within a minute
        assert delivery.enqueue_due() == 0  # not due yet
        _make_due(row)
        assert delivery.enqueue_due() == 1
        row = _only_delivery()
        assert (row.attempts, row.response_status) == (2, 503)
        second_wait = (row.next_attempt_at - row.last_attempt_at).total_seconds()
        assert 30 <= second_wait <= 60
        _make_due(row)
        delivery.enqueue_due()
    row = _only_delivery()
    assert (row.status, row.attempts, row.response_status) == ("delivered", 3, 200)
    assert len(set(receiver.ids())) == 1 and len(receiver.received) == 3
    assert len({r.body for r in receiver.received}) == 1  # the same body every time
    for got in receiver.received:
        assert_signed(secret, got)
    assert db.session.get(WebhookEndpoint, row.endpoint_id).failing_since is None


def test_backoff_doubles_with_jitter_up_to_two_hours():
    waits = [delivery.retry_delay(n) for n in range(1, 12)]
    for n, wait in enumerate(waits, start=1):
        step = min(30 * 2 ** (n - 1), 7200)
        assert step / 2 <= wait <= step
    assert len({round(delivery.retry_delay(3), 6) for _ in range(20)}) > 1  # jittered


def test_dead_endpoint_is_retried(app):
    org, owner = owner_and_org()
    receiver = Receiver()  # bound, never started and then closed: nothing listens on its port
    url = receiver.url
    receiver.server.server_close()
    add_endpoint(org, owner, url)
    _promote(org, owner)
    row = _only_delivery()
    assert row.status == "pending" and row.attempts == 1 and row.response_status is None
    assert row.last_error == "Could not connect to the endpoint."


def test_slow_endpoint_times_out(app, monkeypatch):
    monkeypatch.setattr(delivery, "READ_TIMEOUT", 0.5)
    org, owner = owner_and_org()
    release = threading.Event()
    with Receiver(Answer(hold=release)) as receiver:
        add_endpoint(org, owner, receiver.url)
        started = time.monotonic()
        _promote(org, owner)
        took = time.monotonic() - started
        release.set()
    assert took < 5
    row = _only_delivery()
    assert row.status == "pending" and row.last_error == "The endpoint did not answer in time."


def test_redirects_are_not_followed(app):
    org, owner = owner_and_org()
    with Receiver(Answer(302, b"", {"location": "/elsewhere"})) as receiver:
        add_endpoint(org, owner, receiver.url)
        _promote(org, owner)
    assert [r.path for r in receiver.received] == ["/hooks"]
    row = _only_delivery()
    assert (row.status, row.response_status) == ("pending", 302)  # not 2xx: retried later


def test_only_the_first_bytes_of_the_answer_are_kept(app):
    org, owner = owner_and_org()
    with Receiver(Answer(200, b"x" * 100_000)) as receiver:
        add_endpoint(org, owner, receiver.url)
        _promote(org, owner)
    row = _only_delivery()
    assert row.status == "delivered" and row.response_body == "x" * delivery.RESPONSE_CAP


def test_a_day_of_failures_gives_up_disables_and_emails_the_owners(app):
    org, owner = owner_and_org()
    with Receiver(Answer(500), Answer(500)) as receiver:
        endpoint, _secret = add_endpoint(org, owner, receiver.url)
        _promote(org, owner)
        row = _only_delivery()
        day_ago = utcnow() - timedelta(hours=24, minutes=1)
        row.series_started_at = day_ago
        db.session.get(WebhookEndpoint, endpoint.id).failing_since = day_ago
        _make_due(row)
        delivery.enqueue_due()
        outbox.drain_due()  # the owners' email
        row = _only_delivery()
        assert (row.status, row.attempts) == ("failed", 2)
        assert db.session.get(WebhookEndpoint, endpoint.id).disabled_at is not None
        mails = [m for m in sent_mail(app) if "webhook" in m["Subject"]]
        assert [m["To"] for m in mails] == ["owner@acme.example"]
        assert receiver.url in mails[0].get_body(("plain",)).get_content()
        _promote(org, owner, "cy@example.com")  # a disabled endpoint hears nothing more
    assert len(receiver.received) == 2
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


def test_the_last_retry_is_at_the_end_of_the_day(app):
    org, owner = owner_and_org()
    with Receiver(Answer(500), Answer(500)) as receiver:
        add_endpoint(org, owner, receiver.url)
        _promote(org, owner)
        row = _only_delivery()
        row.series_started_at = utcnow() - timedelta(hours=23, minutes=59, seconds=50)
        _make_due(row)
        delivery.enqueue_due()
    row = _only_delivery()
    assert (row.status, row.attempts) == ("pending", 2)
    assert row.next_attempt_at == row.series_started_at + timedelta(days=1)


def test_old_finished_deliveries_are_pruned_hourly(app):
    from onboarding import maintenance

    org, owner = owner_and_org()
    with Receiver(Answer(200), Answer(500)) as receiver:
        add_endpoint(org, owner, receiver.url)
        _promote(org, owner)  # delivered
        _promote(org, owner, "bo@example.com")  # pending (500, retrying)
    rows = db.session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
    assert [r.status for r in rows] == ["delivered", "pending"]
    for row in rows:
        row.created_at = utcnow() - timedelta(days=31)
    db.session.commit()
    assert maintenance.run().webhook_deliveries == 1
    assert [r.status for r in db.session.scalars(select(WebhookDelivery))] == ["pending"]
