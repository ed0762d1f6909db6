"""Rows that simultaneous requests all try to create: every request succeeds, one row results
(issue 11, point 10: 6 of 8 simultaneous invites into a new organization answered 500 on PostgreSQL)."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import func, select

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.orgs import onboarding_tasks
from onboarding.orgs.onboarding_tasks import OrganizationOnboardingTask, TaskStatus
from tests.factories import make_org

N = 8


def _at_once(app: Any, work: Any) -> tuple[list[Any], list[BaseException]]:
    barrier = threading.Barrier(N, timeout=30)
    results: list[Any] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        try:
            with app.app_context(), write_intent(True):
                barrier.wait()
                try:
                    result = work(i)
                    db.session.commit()
                finally:
                    db.session.remove()
            with lock:
                results.append(result)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results, errors


def _rows(org_id: int) -> list[OrganizationOnboardingTask]:
    db.session.rollback()
    return list(
        db.session.scalars(
            select(OrganizationOnboardingTask).where(OrganizationOnboardingTask.organization_id == org_id)
        )
    )


def test_simultaneous_pending_tasks_make_one_row(app):
    org_id = make_org().id
    results, errors = _at_once(app, lambda i: onboarding_tasks.record_pending(org_id, "invite_member", None))
    assert errors == [] and len(results) == N
    rows = _rows(org_id)
    assert len(rows) == 1 and rows[0].status == TaskStatus.PENDING


@pytest.mark.parametrize("pending_first", [False, True])
def test_simultaneous_completions_complete_once(app, pending_first):
    org_id = make_org().id
    if pending_first:
        onboarding_tasks.record_pending(org_id, "invite_member", None)
        db.session.commit()
    results, errors = _at_once(
        app, lambda i: onboarding_tasks.complete(org_id, "invite_member", {"invited_member_id": i})
    )
    assert errors == []
    assert sorted(results) == [False] * (N - 1) + [True]  # exactly one completed it
    rows = _rows(org_id)
    assert len(rows) == 1 and rows[0].status == TaskStatus.COMPLETE and rows[0].date_completed


def test_complete_then_pending_keeps_it_complete(app):
    org_id = make_org().id
    assert onboarding_tasks.complete(org_id, "invite_member", {}) is True
    onboarding_tasks.record_pending(org_id, "invite_member", None)
    assert onboarding_tasks.complete(org_id, "invite_member", {}) is False
    db.session.commit()
    assert db.session.scalar(select(func.count(OrganizationOnboardingTask.id))) == 1
    assert _rows(org_id)[0].status == TaskStatus.COMPLETE
