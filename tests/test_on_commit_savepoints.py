"""``on_commit`` callbacks and SAVEPOINTs: releasing one is not the commit; rolling one back drops only
what was registered inside it. (Inviting several addresses uses a savepoint per address: the emails of
the first ones were sent before the commit — so their outbox rows were not visible yet and waited for
the sweep.)"""

from __future__ import annotations

import pytest

from onboarding.database import on_commit, write_intent
from onboarding.extensions import db


def test_savepoints_hold_callbacks_until_the_real_commit(app):
    ran: list[str] = []
    with write_intent(True):
        db.session.execute(db.text("select 1"))
        on_commit(lambda: ran.append("before"))
        with db.session.begin_nested():
            on_commit(lambda: ran.append("kept savepoint"))
        assert ran == []  # releasing the savepoint ran nothing
        with pytest.raises(RuntimeError), db.session.begin_nested():
            on_commit(lambda: ran.append("undone savepoint"))
            raise RuntimeError
        assert ran == []
        on_commit(lambda: ran.append("after"))
        db.session.commit()
    assert ran == ["before", "kept savepoint", "after"]


def test_outer_rollback_drops_everything(app):
    ran: list[str] = []
    with write_intent(True):
        db.session.execute(db.text("select 1"))
        on_commit(lambda: ran.append("x"))
        with db.session.begin_nested():
            on_commit(lambda: ran.append("y"))
        db.session.rollback()
        db.session.commit()
    assert ran == []
