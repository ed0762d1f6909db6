"""The member-joined signal is delivered once even if Redis is down at accept time, the process dies right
after commit, or the worker is killed mid-job; each receiver applies it once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from onboarding.audit.models import AuditLogEntry
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.orgs.onboarding_tasks import TaskStatus, get_task
from onboarding.outbox import service as outbox
from onboarding.outbox.models import OutboxMessage, OutboxReceipt
from tests.factories import make_invite, make_member, make_org, make_user, sent_mail

ROOT = Path(__file__).resolve().parent.parent


def _accept(app):
    org = make_org("Acme", slug="acme")
    inviter = make_user("boss@example.com")
    make_member(org, inviter, role="owner")
    member, raw = make_invite(org, "joiner@example.com", inviter=inviter)
    user = make_user("joiner@example.com")
    with write_intent(True):
        result = invites.accept(member.id, raw, user, ip="127.0.0.1")
        assert result.ok
        db.session.commit()
    return org


def _joined_mails(app):
    return [m for m in sent_mail(app) if m["To"] == "boss@example.com" and "joined" in m["Subject"]]


def _delivered_once(app, org):
    db.session.rollback()
    task = get_task(org.id, "invite_member")
    assert task is not None and task.status == TaskStatus.COMPLETE
    assert (
        db.session.scalar(
            select(func.count(OutboxMessage.id)).where(OutboxMessage.category == "member_joined")
        )
        == 0
    )
    assert len(_joined_mails(app)) == 1


def _wait_lease(app):
    time.sleep(app.config["OUTBOX_LEASE_SECONDS"] + 0.2)


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False, "REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_down_at_accept_time(app, settings, redis_url):
    org = _accept(app)  # the enqueue after commit fails: logged, not raised
    assert db.session.scalar(select(func.count(OutboxMessage.id))) >= 1
    assert (
        get_task(org.id, "invite_member") is None
        or get_task(org.id, "invite_member").status != TaskStatus.COMPLETE
    )
    # Redis comes back; the periodic sweep delivers what waited (and the counter written via the outbox)
    app.config.update(REDIS_URL=redis_url, JOBS_SYNC=True)
    outbox.drain_due()
    outbox.drain_due()  # the inviter's email was queued by the first pass
    _delivered_once(app, org)
    outbox.drain_due()
    _delivered_once(app, org)
    from onboarding.invites.models import OrganizationInviteStats

    assert db.session.get(OrganizationInviteStats, org.id).invites_accepted == 1


def test_process_dies_right_after_commit(app, monkeypatch):
    def die(*_a, **_k):
        raise SystemExit("killed after commit")

    monkeypatch.setattr(outbox, "enqueue_delivery", die)
    with pytest.raises(SystemExit):
        _accept(app)
    monkeypatch.undo()
    db.session.remove()  # the process is gone; a new one starts with a new session
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 1  # committed, not delivered
    outbox.drain_due()
    from onboarding.orgs.models import Organization

    org = db.session.scalar(select(Organization).where(Organization.slug == "acme"))
    _delivered_once(app, org)


def test_concurrent_deliverers_apply_once(app, monkeypatch):
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda *_a: None)  # nobody delivers after commit
    org = _accept(app)
    message_id = db.session.scalar(select(OutboxMessage.id))
    db.session.rollback()
    results = []

    def deliver():
        with app.app_context():
            results.append(outbox.deliver(message_id))
            db.session.remove()

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results.count(True) == 1
    outbox.drain_due()  # the inviter's email message
    _delivered_once(app, org)
    receipts = db.session.scalars(
        select(OutboxReceipt.receiver).where(OutboxReceipt.message_id == message_id)
    ).all()
    assert sorted(receipts) == ["notify_inviter", "onboarding_task"]


def test_failed_receiver_backs_off_and_retries(app, monkeypatch):
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda *_a: None)
    org = _accept(app)
    from onboarding.outbox import receivers

    calls = {"n": 0}
    real = receivers.complete_invite_task

    def flaky(payload, message_id):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("database hiccup")
        real(payload, message_id)

    monkeypatch.setattr(
        outbox,
        "_RECEIVERS",
        {
            **outbox._RECEIVERS,
            "member_joined": [
                ("onboarding_task", flaky),
                *[r for r in outbox._RECEIVERS["member_joined"] if r[0] != "onboarding_task"],
            ],
        },
    )
    assert outbox.drain_due() == 0
    message = db.session.scalar(select(OutboxMessage))
    assert message.attempts == 1 and "database hiccup" in message.last_error
    delay = (message.scheduled_for - message.scheduled_from).total_seconds()
    assert 1 <= delay <= 3
    assert outbox.drain_due() == 0  # not due yet
    message.scheduled_for = message.scheduled_from
    db.session.commit()
    assert outbox.drain_due() == 1
    _wait_lease(app)
    outbox.drain_due()
    _delivered_once(app, org)


@pytest.mark.slow
@pytest.mark.parametrize(
    "settings", [{"JOBS_SYNC": False, "OUTBOX_EXTRA_RECEIVERS": ["tests.outbox_helpers.SLOW"]}]
)
def test_worker_killed_mid_job(app, settings, database_url, redis_url, tmp_path):
    org = _accept(app)  # enqueued on the real Redis; nothing delivered yet
    marker = tmp_path / "slow-started"
    env = {
        **os.environ,
        "ONBOARDING_DATABASE_URL": database_url,
        "ONBOARDING_REDIS_URL": redis_url,
        "ONBOARDING_INSTANCE_PATH": str(tmp_path / "instance"),
        "ONBOARDING_SECRET_KEY": app.config["SECRET_KEY"],  # as in a deployment: one key for all processes
        "ONBOARDING_OUTBOX_EXTRA_RECEIVERS": '["tests.outbox_helpers.SLOW"]',
        "ONBOARDING_OUTBOX_LEASE_SECONDS": "1",
        "ONBOARDING_MAIL_URL": app.config["MAIL_URL"],
        "SLOW_RECEIVER_MARKER": str(marker),
    }
    # Its own process group: the kill must also take the scheduler process RQ forks beside the worker.
    worker = subprocess.Popen(
        [sys.executable, "-m", "onboarding.cli", "worker", "outbox"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the worker never reached the slow receiver"
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait(10)
    db.session.rollback()
    # the first two receivers had committed; the slow one had not
    message_id = db.session.scalar(select(OutboxMessage.id).where(OutboxMessage.category == "member_joined"))
    assert message_id is not None
    done = set(
        db.session.scalars(select(OutboxReceipt.receiver).where(OutboxReceipt.message_id == message_id))
    )
    assert done == {"onboarding_task", "notify_inviter"}
    assert (
        db.session.scalar(
            select(func.count(AuditLogEntry.id)).where(AuditLogEntry.event == "test.slow-receiver")
        )
        == 0
    )
    # after the dead worker's lease runs out, the sweep finishes the job
    _wait_lease(app)
    app.config["JOBS_SYNC"] = True
    outbox.drain_due()
    outbox.drain_due()
    _delivered_once(app, org)
    assert (
        db.session.scalar(
            select(func.count(AuditLogEntry.id)).where(AuditLogEntry.event == "test.slow-receiver")
        )
        == 1
    )


def test_message_ids_are_never_reused(app):
    """A receipt names its message by id; a later message must not inherit an earlier one's receipts."""
    from onboarding.outbox import mail as outbox_mail

    for n in range(3):
        with write_intent(True):
            outbox_mail.queue_email(
                f"r{n}@example.com",
                "member_joined",
                org=make_org(f"Org {n}"),
                joined=make_user(f"j{n}@example.com"),
                inviter=None,
            )
            db.session.commit()
    assert sorted(m["To"] for m in sent_mail(app)) == ["r0@example.com", "r1@example.com", "r2@example.com"]


def test_mail_is_sent_with_no_transaction_held(app, monkeypatch, database_url):
    """Notes §5: never talk to the mail server inside a write transaction. While the email receiver
    runs, the deliverer holds no transaction, and on SQLite another writer gets the lock at once."""
    import sqlite3

    from onboarding import mail
    from onboarding.outbox import mail as outbox_mail

    seen: list[bool] = []
    real_deliver = mail.deliver

    def deliver(msg):  # type: ignore[no-untyped-def]
        seen.append(db.session().in_transaction())
        if database_url.startswith("sqlite"):
            other = sqlite3.connect(
                database_url.removeprefix("sqlite:///"), timeout=0.2, isolation_level=None
            )
            try:
                other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if the deliverer held it
                other.execute("ROLLBACK")
            finally:
                other.close()
        real_deliver(msg)

    monkeypatch.setattr(mail, "deliver", deliver)
    with app.test_request_context(), write_intent(True):
        outbox_mail.schedule_email("ada@example.com", "Hello", "A plain message.", None)
        db.session.commit()
    assert seen == [False]
    assert len(sent_mail(app)) == 1
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    receipts = db.session.scalars(select(OutboxReceipt.receiver)).all()
    assert sorted(receipts) == ["invite_delivery", "smtp"]
