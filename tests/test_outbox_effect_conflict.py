"""A receiver whose effect collides with another message's (not with a second deliverer of the same message)
is retried, not dropped: the message keeps its receipt to earn. Found by the several-machines test, where
100 joins completing one organization task at once lost one member-joined effect."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.orgs import onboarding_tasks
from onboarding.outbox import service as outbox
from onboarding.outbox.models import OutboxMessage, OutboxReceipt
from onboarding.outbox.receivers import MEMBER_JOINED
from tests.factories import make_org


def test_effect_conflict_is_retried_not_dropped(app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "enqueue_delivery", lambda *_a: None)  # deliver by hand below
    org = make_org("Acme", slug="acme")
    with write_intent(True):
        message = outbox.schedule(
            MEMBER_JOINED,
            {"organization_id": org.id, "user_id": 1, "organization_member_id": 1, "inviter_id": None},
        )
        db.session.commit()
    message_id = message.id
    # The effect runs into a row another message's delivery made a moment ago (before onboarding tasks
    # were written with INSERT … ON CONFLICT, two joins completing one task did this): a unique
    # violation that is not this message's own receipt.
    real_complete = onboarding_tasks.complete
    collided = []

    def colliding_complete(*args: Any, **kwargs: Any) -> Any:
        if not collided:
            collided.append(True)
            raise IntegrityError("INSERT INTO organization_onboarding_task …", {}, Exception("unique"))
        return real_complete(*args, **kwargs)

    monkeypatch.setattr(onboarding_tasks, "complete", colliding_complete)

    assert outbox.deliver(message_id) is False
    db.session.rollback()
    assert db.session.get(OutboxMessage, message_id) is not None  # kept, to be tried again
    assert "IntegrityError" in (db.session.get(OutboxMessage, message_id).last_error or "")
    db.session.rollback()

    deadline = time.monotonic() + 15
    while not outbox.deliver(message_id):  # due again after its back-off
        assert time.monotonic() < deadline, "never delivered"
        db.session.rollback()
        time.sleep(0.3)
    db.session.rollback()
    receipts = db.session.scalars(
        select(OutboxReceipt.receiver).where(OutboxReceipt.message_id == message_id)
    ).all()
    assert sorted(receipts) == ["notify_inviter", "onboarding_task"]
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0
