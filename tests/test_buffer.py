"""The Redis counter buffer (spec §1.14): nothing lost or counted twice if a flush dies mid-way or two
flushes run at once; counts survive Redis being down (through the outbox)."""

from __future__ import annotations

import threading

import pytest

from onboarding import buffer
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.invites.models import OrganizationInviteStats
from onboarding.redisconn import get_redis
from tests.factories import make_org


def _count(n: int, org_id: int, column: str = "invites_sent") -> None:
    for _ in range(n):
        with write_intent(True):
            buffer.incr(OrganizationInviteStats, {column: 1}, {"organization_id": org_id})
            db.session.commit()  # the increment is pushed after commit


def _stats(org_id: int) -> OrganizationInviteStats:
    db.session.rollback()
    row = db.session.get(OrganizationInviteStats, org_id)
    assert row is not None
    return row


def test_counts_are_aggregated_and_flushed(app):
    org = make_org()
    _count(3, org.id)
    assert db.session.get(OrganizationInviteStats, org.id) is None  # not in the database before a flush
    assert buffer.flush() == 1
    assert _stats(org.id).invites_sent == 3
    _count(2, org.id)
    buffer.flush()
    assert _stats(org.id).invites_sent == 5
    assert get_redis().get(buffer.LAST_FLUSH) is not None


def test_rolled_back_change_counts_nothing(app):
    org = make_org()
    with write_intent(True):
        buffer.incr(OrganizationInviteStats, {"invites_sent": 1}, {"organization_id": org.id})
        db.session.rollback()
    buffer.flush()
    assert db.session.get(OrganizationInviteStats, org.id) is None


def test_flush_dying_before_the_database_write_loses_nothing(app, monkeypatch):
    org = make_org()
    _count(4, org.id)
    real = buffer.apply

    def die(*_a, **_k):
        raise SystemExit("killed mid-flush")

    monkeypatch.setattr(buffer, "apply", die)
    with pytest.raises(SystemExit):
        buffer.flush()
    monkeypatch.setattr(buffer, "apply", real)
    db.session.rollback()
    assert db.session.get(OrganizationInviteStats, org.id) is None
    assert get_redis().scard(buffer.PROCESSING) == 1  # the hash waits, set aside
    buffer.flush()
    assert _stats(org.id).invites_sent == 4


def test_flush_dying_after_the_database_write_counts_once(app, monkeypatch):
    org = make_org()
    _count(4, org.id)
    redis = get_redis()
    real_delete = type(redis).delete

    def die_on_delete(self, *names):
        raise SystemExit("killed after commit, before the hash was deleted")

    monkeypatch.setattr(type(redis), "delete", die_on_delete)
    with pytest.raises(SystemExit):
        buffer.flush()
    monkeypatch.setattr(type(redis), "delete", real_delete)
    assert _stats(org.id).invites_sent == 4
    buffer.flush()  # finds the hash still there, sees it recorded as applied, and only cleans up
    assert _stats(org.id).invites_sent == 4
    assert redis.scard(buffer.PROCESSING) == 0


def test_two_flushes_at_once_count_each_increment_once(app):
    orgs = [make_org() for _ in range(5)]
    for round_ in range(3):
        for org in orgs:
            _count(2, org.id)
        errors: list[BaseException] = []

        def flush():
            try:
                with app.app_context():
                    buffer.flush()
                    db.session.remove()
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)

        threads = [threading.Thread(target=flush) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        buffer.flush()
        for org in orgs:
            assert _stats(org.id).invites_sent == 2 * (round_ + 1)


@pytest.mark.parametrize("settings", [{"REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_redis_down_counts_through_the_outbox(app, settings, redis_url):
    from onboarding.outbox.service import drain_due

    org = make_org()
    _count(3, org.id)  # each push fails: written to the outbox instead, with a warning
    app.config["REDIS_URL"] = redis_url
    drain_due()
    assert _stats(org.id).invites_sent == 3
    drain_due()
    assert _stats(org.id).invites_sent == 3
