"""An accept costs one job: a transaction's messages share one delivery job, and the messages a delivery's
receivers schedule (the inviter's email) are delivered by that same job."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from onboarding import tasks
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.outbox import service as outbox
from onboarding.outbox.mail import schedule_email
from onboarding.outbox.models import OutboxMessage, OutboxReceipt
from tests.test_outbox import _accept, _delivered_once


@pytest.fixture
def jobs(app, monkeypatch) -> list[tuple[Any, ...]]:
    """Jobs enqueued (not run): each as (function path, args, queue)."""
    import onboarding.queue

    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        onboarding.queue,
        "enqueue",
        lambda func, *args, queue="default", **_k: calls.append((func, args, queue)),
    )
    app.config["JOBS_SYNC"] = False
    return calls


def test_a_transactions_messages_share_one_job(app, jobs):
    with write_intent(True):
        first = outbox.schedule("member_joined", {"organization_id": 1, "user_id": 1, "member_id": 1})
        second = outbox.schedule("member_joined", {"organization_id": 1, "user_id": 2, "member_id": 2})
        mail = schedule_email("a@example.com", "Hi", "Hello", None)
        db.session.commit()
    by_queue = {queue: (func, args) for func, args, queue in jobs}
    assert len(jobs) == 2  # one per queue, not one per message
    assert by_queue["outbox"] == ("onboarding.tasks.deliver_outbox", (first.id, second.id))
    assert by_queue["email"] == ("onboarding.tasks.deliver_outbox", (mail.id,))


def test_a_rolled_back_transaction_enqueues_nothing_and_the_next_starts_afresh(app, jobs):
    with write_intent(True):
        outbox.schedule("member_joined", {"organization_id": 1, "user_id": 1, "member_id": 1})
        db.session.rollback()
        kept = outbox.schedule("member_joined", {"organization_id": 1, "user_id": 2, "member_id": 2})
        db.session.commit()
    assert jobs == [("onboarding.tasks.deliver_outbox", (kept.id,), "outbox")]


def test_an_accept_costs_one_job_and_the_inviters_email_goes_in_it(app, jobs):
    org = _accept(app)
    org_id = org.id
    assert [(f, q) for f, _a, q in jobs] == [("onboarding.tasks.deliver_outbox", "outbox")]
    _func, args, _queue = jobs[0]
    db.session.remove()
    with app.app_context():  # the worker runs the one job
        assert tasks.deliver_outbox(*args) is True
        db.session.remove()
    assert len(jobs) == 1  # the receivers' email did not make a second job
    from onboarding.orgs.models import Organization

    _delivered_once(app, db.session.get(Organization, org_id))
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
    receipts = set(db.session.scalars(select(OutboxReceipt.receiver)))
    assert {"onboarding_task", "notify_inviter"} <= receipts
