"""Two owners stepping down at the same moment leave one owner behind (SQLite: IMMEDIATE write
transactions; PostgreSQL: the owner rows are counted FOR UPDATE)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.members import service as rules
from onboarding.orgs.models import OrganizationMember
from tests.factories import make_member, make_org, make_user


@pytest.mark.parametrize("action", ["leave", "demote-other", "remove-other"])
def test_two_owners_at_once_leave_one_owner(app, action):
    org = make_org("Race", slug="race")
    owners = [make_member(org, make_user(f"o{i}@example.com"), role="owner") for i in range(2)]
    ids = [(m.id, m.user_id) for m in owners]
    org_id = org.id
    barrier = threading.Barrier(2, timeout=30)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            with app.app_context(), write_intent(True):
                from onboarding.orgs.models import Organization

                the_org = db.session.get(Organization, org_id)
                me = db.session.get(User, ids[i][1])
                mine = db.session.get(OrganizationMember, ids[i][0])
                other = db.session.get(OrganizationMember, ids[1 - i][0])
                try:
                    if action == "leave":
                        rules.leave(the_org, mine, me, ip="127.0.0.1")
                    elif action == "demote-other":
                        rules.edit_member(the_org, other, me, "owner", role="member", ip="127.0.0.1")
                    else:
                        rules.remove_member(the_org, other, me, "owner", ip="127.0.0.1")
                    db.session.commit()
                    outcome = "done"
                except rules.MemberError as exc:
                    db.session.rollback()
                    outcome = "refused" if exc.last_owner else f"other: {exc}"
                db.session.remove()
            with lock:
                outcomes.append(outcome)
        except BaseException as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors, errors[:2]
    assert sorted(outcomes) == ["done", "refused"]
    db.session.rollback()
    left = db.session.scalars(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org_id, OrganizationMember.role == "owner"
        )
    ).all()
    assert len(left) == 1
