"""A slow endpoint slows nothing else: one attempt per endpoint at a time (other endpoints go on), and the
worker runs the webhooks queue in threads of its own, so mail keeps flowing while an endpoint hangs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from onboarding.database import write_intent
from onboarding.extensions import db, utcnow
from onboarding.outbox import mail
from onboarding.webhooks import delivery
from onboarding.webhooks import service as webhooks
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import make_member, make_user, sent_mail
from tests.webhook_helpers import Answer, Receiver, add_endpoint, owner_and_org

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


def _test_event(endpoint) -> int:
    with write_intent(True):
        webhooks.send_test(endpoint)
        db.session.commit()
    return db.session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .order_by(WebhookDelivery.id.desc())
    )


def test_one_attempt_per_endpoint_at_a_time(app, monkeypatch):
    org, owner = owner_and_org()
    monkeypatch.setattr(delivery, "enqueue", lambda *_a, **_k: None)  # attempts are made by hand below
    hold = threading.Event()
    with Receiver(Answer(hold=hold)) as slow, Receiver() as fast:
        slow_endpoint, _ = add_endpoint(org, owner, slow.url)
        fast_endpoint, _ = add_endpoint(org, owner, fast.url)
        first, second = _test_event(slow_endpoint), _test_event(slow_endpoint)
        other = _test_event(fast_endpoint)

        def attempt_first() -> None:
            with app.app_context():
                delivery.attempt(first)
                db.session.remove()

        busy = threading.Thread(target=attempt_first)
        busy.start()
        assert slow.arrived.wait(10)
        started = time.monotonic()
        assert delivery.attempt(second) is False  # its endpoint is answering another delivery
        assert delivery.attempt(other) is True  # another endpoint is not held up
        assert time.monotonic() - started < 3
        hold.set()
        busy.join(15)
        row = db.session.get(WebhookDelivery, second)
        db.session.refresh(row)
        assert row.attempts == 0 and row.status == "pending"
        assert row.next_attempt_at <= utcnow() + timedelta(seconds=delivery.ENDPOINT_BUSY_DELAY)
        assert len(slow.received) == 1 and len(fast.received) == 1
        time.sleep(delivery.ENDPOINT_BUSY_DELAY)
        assert delivery.attempt(second) is True  # its turn now
    assert len(slow.received) == 2


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{"WEBHOOK_ALLOW_PRIVATE": True, "JOBS_SYNC": False}])
def test_mail_flows_while_an_endpoint_hangs(app, settings, database_url, redis_url, tmp_path):
    """One `onboarding worker` on every queue: while a webhook attempt waits on a hung endpoint, an email
    queued meanwhile is sent at once (without the webhooks' own threads it would wait ~10 s)."""
    org, owner = owner_and_org()
    hold = threading.Event()
    with Receiver(Answer(hold=hold)) as receiver:
        add_endpoint(org, owner, receiver.url, ["member.joined"])
        env = {
            **os.environ,
            "ONBOARDING_DATABASE_URL": database_url,
            "ONBOARDING_REDIS_URL": redis_url,
            "ONBOARDING_INSTANCE_PATH": str(tmp_path / "instance"),
            "ONBOARDING_SECRET_KEY": app.config["SECRET_KEY"],
            "ONBOARDING_WEBHOOK_ALLOW_PRIVATE": "true",
            "ONBOARDING_MAIL_URL": app.config["MAIL_URL"],
        }
        worker = subprocess.Popen(
            [sys.executable, "-m", "onboarding.cli", "worker"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            make_member(org, make_user("ada@example.com"))  # member.joined: the worker calls the endpoint
            assert receiver.arrived.wait(60), "the worker never called the endpoint"
            started = time.monotonic()
            with app.test_request_context(), write_intent(True):
                mail.schedule_email("bob@example.com", "Hello", "Mail does not wait for webhooks.", None)
                db.session.commit()
            while not sent_mail(app) and time.monotonic() - started < 8:
                time.sleep(0.1)
            took = time.monotonic() - started
            assert not hold.is_set()
            assert [m["To"] for m in sent_mail(app)] == ["bob@example.com"], "the email waited"
            assert took < 8
        finally:
            hold.set()
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)
