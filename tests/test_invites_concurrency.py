"""Fifty simultaneous accepts of one invite give exactly one membership (SQLite here; PostgreSQL in CI's
second run, with ONBOARDING_TEST_DATABASE_URL)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.orgs.models import OrganizationMember
from tests.factories import make_invite, make_org, make_user

N = 50


def test_fifty_simultaneous_accepts_give_one_membership(app):
    org = make_org("Race", slug="race")
    member, raw = make_invite(org, "racer@example.com")
    user = make_user("racer@example.com")
    member_id, user_id = member.id, user.id
    barrier = threading.Barrier(N, timeout=60)
    results: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt() -> None:
        try:
            barrier.wait(timeout=30)
            # like 50 POST requests arriving at once: each loads its user and accepts in one transaction
            with app.app_context(), write_intent(True):
                from onboarding.accounts.models import User

                me = db.session.get(User, user_id)
                result = invites.accept(member_id, raw, me, ip="127.0.0.1")
                db.session.commit()
                with lock:
                    results.append(result.status.value)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=attempt) for _ in range(N)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[:3]
    assert len(results) == N
    assert results.count("accepted") == 1
    assert set(results) <= {"accepted", "invalid", "already_member"}
    db.session.rollback()
    rows = db.session.scalars(
        select(OrganizationMember).where(OrganizationMember.organization_id == org.id)
    ).all()
    assert len(rows) == 1 and rows[0].user_id == user_id
    accepted = db.session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.event == "member.accept-invite")
    ).all()
    assert len(accepted) == 1
