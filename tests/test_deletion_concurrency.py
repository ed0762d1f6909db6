"""Two owners deleting their accounts at the same moment leave one owner behind (SQLite: IMMEDIATE
write transactions; PostgreSQL: the owner rows are counted FOR UPDATE)."""

from __future__ import annotations

import threading

from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.database import write_intent
from onboarding.deletion import service as deletion
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from tests.factories import make_member, make_org, make_user


def test_two_owners_deleting_at_once_leave_one_owner(app):
    org = make_org("Race", slug="race")
    user_ids = [make_member(org, make_user(f"o{i}@example.com"), role="owner").user_id for i in range(2)]
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(user_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            with app.app_context(), write_intent(True):
                try:
                    deletion.delete_user(db.session.get(User, user_id), ip="127.0.0.1")
                    db.session.commit()
                    outcome = "deleted"
                except deletion.SoleOwnerError:
                    db.session.rollback()
                    outcome = "refused"
                db.session.remove()
            with lock:
                outcomes.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(uid,)) for uid in user_ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:2]
    assert sorted(outcomes) == ["deleted", "refused"]
    db.session.rollback()
    owners = db.session.scalars(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.role == "owner"
        )
    ).all()
    assert len(owners) == 1 and db.session.get(User, owners[0].user_id) is not None
