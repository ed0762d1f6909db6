"""Webhook events ride the outbox: a dead Redis, a crash right after commit or a killed worker never lose
an event nor start a second attempt series for it (one webhook-id per event and endpoint)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.members import service as members
from onboarding.outbox import service as outbox
from onboarding.outbox.models import OutboxMessage
from onboarding.webhooks import delivery
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import make_member, make_user
from tests.webhook_helpers import Answer, Receiver, add_endpoint, assert_signed, owner_and_org

ROOT = Path(__file__).resolve().parent.parent
PRIVATE = {"WEBHOOK_ALLOW_PRIVATE": True}


def _change(org, owner):
    member = make_member(org, make_user("ada@example.com"))
    with write_intent(True):
        members.edit_member(org, member, owner, "owner", role="admin")
        db.session.commit()


def _one_series(receiver: Receiver, secret: str, attempts: int = 1) -> None:
    db.session.rollback()
    rows = db.session.scalars(select(WebhookDelivery)).all()
    assert len(rows) == 1 and rows[0].status == "delivered" and rows[0].attempts == attempts
    assert len(receiver.received) == attempts and set(receiver.ids()) == {rows[0].webhook_id}
    for got in receiver.received:
        assert_signed(secret, got)
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


@pytest.mark.parametrize("settings", [{**PRIVATE, "JOBS_SYNC": False, "REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_down_at_change_time(app, settings, redis_url):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)
        _change(org, owner)  # the enqueue after commit fails: logged, not raised
        assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1
        assert receiver.received == []
        app.config.update(REDIS_URL=redis_url, JOBS_SYNC=True)  # Redis is back; the sweep runs
        outbox.drain_due()
        outbox.drain_due()
        delivery.enqueue_due()
        _one_series(receiver, secret)


@pytest.mark.parametrize("settings", [PRIVATE])
def test_process_dies_right_after_the_change_commits(app, settings, monkeypatch):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)

        def die(*_a, **_k):
            raise SystemExit("killed after commit")

        monkeypatch.setattr(outbox, "enqueue_delivery", die)
        with pytest.raises(SystemExit):
            _change(org, owner)
        monkeypatch.undo()
        db.session.remove()
        assert receiver.received == []
        outbox.drain_due()
        outbox.drain_due()
        _one_series(receiver, secret)


@pytest.mark.parametrize("settings", [PRIVATE])
def test_process_dies_right_after_the_deliveries_are_written(app, settings, monkeypatch):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)

        def die(*_a, **_k):
            raise SystemExit("killed after the fan-out committed")

        monkeypatch.setattr(delivery, "enqueue", die)
        with pytest.raises(SystemExit):
            _change(org, owner)  # JOBS_SYNC: the outbox delivers inline, then dies before queueing
        monkeypatch.undo()
        db.session.remove()
        assert receiver.received == []
        time.sleep(app.config["OUTBOX_LEASE_SECONDS"] + 0.2)  # the dead process's lease on the message
        outbox.drain_due()  # its receipt was written with the deliveries: no second fan-out
        assert db.session.scalar(select(func.count(WebhookDelivery.id))) == 1
        assert delivery.enqueue_due() == 1  # the sweep
        assert delivery.enqueue_due() == 0
        _one_series(receiver, secret)


@pytest.mark.parametrize("settings", [PRIVATE])
def test_concurrent_attempts_call_once(app, settings, monkeypatch):
    org, owner = owner_and_org()
    monkeypatch.setattr(delivery, "enqueue", lambda *_a, **_k: None)  # nobody attempts after commit
    release = threading.Event()
    with Receiver(Answer(hold=release)) as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)
        _change(org, owner)
        delivery_id = db.session.scalar(select(WebhookDelivery.id))
        db.session.rollback()
        results: list[bool] = []

        def attempt() -> None:
            with app.app_context():
                results.append(delivery.attempt(delivery_id))
                db.session.remove()

        threads = [threading.Thread(target=attempt) for _ in range(6)]
        for t in threads:
            t.start()
        receiver.arrived.wait(10)
        time.sleep(0.3)
        release.set()
        for t in threads:
            t.join(30)
        assert sorted(results) == [False] * 5 + [True]
        _one_series(receiver, secret)


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{**PRIVATE, "JOBS_SYNC": False}])
def test_worker_killed_mid_delivery(app, settings, database_url, redis_url, tmp_path):
    """A worker dies while the endpoint is answering; after its lease runs out the sweep attempts again
    with the same webhook-id, and the delivery completes once."""
    org, owner = owner_and_org()
    hold = threading.Event()
    with Receiver(Answer(hold=hold)) as receiver:
        _endpoint, secret = add_endpoint(org, owner, receiver.url)
        _change(org, owner)  # queued on the real Redis
        outbox.drain_due()  # the outbox turns the event into a delivery, queued on the real Redis
        assert receiver.received == []
        env = {
            **os.environ,
            "ONBOARDING_DATABASE_URL": database_url,
            "ONBOARDING_REDIS_URL": redis_url,
            "ONBOARDING_INSTANCE_PATH": str(tmp_path / "instance"),
            "ONBOARDING_SECRET_KEY": app.config["SECRET_KEY"],
            "ONBOARDING_OUTBOX_LEASE_SECONDS": "1",
            "ONBOARDING_WEBHOOK_ALLOW_PRIVATE": "true",
            "ONBOARDING_MAIL_URL": app.config["MAIL_URL"],
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "onboarding.cli", "worker", "webhooks"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            assert receiver.arrived.wait(60), "the worker never called the endpoint"
        finally:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
        hold.set()
        db.session.rollback()
        row = db.session.scalar(select(WebhookDelivery))
        assert row.status == "pending" and row.attempts == 0  # the attempt never got recorded
        time.sleep(1.2)  # the dead worker's lease runs out
        app.config["JOBS_SYNC"] = True
        assert delivery.enqueue_due() == 1
        delivery.enqueue_due()
    db.session.rollback()
    row = db.session.scalar(select(WebhookDelivery))
    assert row.status == "delivered" and row.attempts == 1
    assert len(receiver.received) == 2 and set(receiver.ids()) == {row.webhook_id}
    assert len({r.body for r in receiver.received}) == 1
    for got in receiver.received:
        assert_signed(secret, got)
    assert json.loads(receiver.received[0].body)["type"] == "member.role-changed"
