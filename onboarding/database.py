"""Database engine behaviour that the ORM does not give us by default.

SQLite: WAL journal, a busy timeout, foreign keys on, and transactions that *begin* IMMEDIATE when
the caller means to write. A deferred transaction that reads and then tries to write can fail at
once with ``database is locked`` (SQLITE_BUSY_SNAPSHOT, which the busy timeout does not cover); one
that takes the write lock at BEGIN waits its turn instead. Requests with a safe method (GET, HEAD,
OPTIONS) begin deferred so that readers never queue behind writers.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Callable, Iterator
from typing import Any

from flask import Flask, g, request
from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar("write_intent", default=True)

SQLITE_BUSY_TIMEOUT_MS = 15000


def set_write_intent(value: bool) -> None:
    _write_intent.set(value)


@contextlib.contextmanager
def write_intent(value: bool = True) -> Iterator[None]:
    token = _write_intent.set(value)
    try:
        yield
    finally:
        _write_intent.reset(token)


def request_hooks(app: Flask) -> None:
    """Each request starts and ends with no open transaction, and declares whether it means to write."""
    from onboarding.extensions import db

    @app.before_request
    def _begin() -> None:
        db.session.rollback()  # nothing to undo in a fresh session; ends any transaction left open
        # The signed-in user is loaded afresh by each request. (Production pushes an app context per
        # request anyway; a test that keeps one open across requests would otherwise share `g`.)
        g.pop("_login_user", None)
        g.pop("csrf_token", None)  # Flask-WTF caches the token in g; a rotated session has a new one
        g._write_intent_token = _write_intent.set(request.method not in ("GET", "HEAD", "OPTIONS"))

    @app.teardown_request
    def _end(_exc: BaseException | None) -> None:
        db.session.rollback()  # a view that meant to keep its changes has committed them
        token = g.pop("_write_intent_token", None)
        if token is not None:
            _write_intent.reset(token)


def engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}}
    # pre_ping: a restarted PostgreSQL is noticed per connection instead of failing the next request.
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 10, "pool_recycle": 1800}


@event.listens_for(Engine, "connect")
def _on_connect(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        # Take transaction control away from the sqlite3 module so that "begin" below decides.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()


@event.listens_for(Engine, "begin")
def _on_begin(conn: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


# --- work that must happen only once the transaction has committed (mail, job enqueueing) ----------


def on_commit(callback: Callable[[], None]) -> None:
    """Run ``callback`` after the current ``db.session`` transaction commits; never if it rolls back."""
    from onboarding.extensions import db

    session = db.session()  # the request's Session behind the scoped_session proxy
    if not session.in_transaction():
        # Tie the callback to a transaction even if nothing was read or written yet; otherwise a
        # rollback would be a no-op that leaves the callback for the next commit. (No connection is
        # taken until the session needs one.)
        session.begin()
    session.info.setdefault("on_commit", []).append(callback)


# SAVEPOINTs (``begin_nested``) fire these events too: releasing one is not the commit, and rolling one
# back undoes only what was registered inside it. Each savepoint remembers how many callbacks existed
# when it began.


def _run_on_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a SAVEPOINT was released; its callbacks wait for the real commit
    callbacks = session.info.pop("on_commit", [])
    for callback in callbacks:
        try:
            callback()
        except Exception as exc:  # noqa: BLE001 - the commit stands; a failed follow-up is logged, not raised
            log.exception("after-commit callback %r failed", callback)
            import sentry_sdk

            sentry_sdk.capture_exception(exc)  # listed at /manage/errors/ like any other error


def _drop_on_commit(session: Session, *_: Any) -> None:
    marks = session.info.get("on_commit_marks")
    if session.in_nested_transaction() and marks:
        del session.info.setdefault("on_commit", [])[marks[-1] :]
        return
    session.info.pop("on_commit", None)


def _mark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested:
        session.info.setdefault("on_commit_marks", []).append(len(session.info.get("on_commit", [])))


def _unmark_savepoint(session: Session, transaction: Any) -> None:
    if transaction.nested and session.info.get("on_commit_marks"):
        session.info["on_commit_marks"].pop()


event.listen(Session, "after_commit", _run_on_commit)
event.listen(Session, "after_rollback", _drop_on_commit)
event.listen(Session, "after_transaction_create", _mark_savepoint)
event.listen(Session, "after_transaction_end", _unmark_savepoint)


def insert_or_ignore(model: Any, values: dict[str, Any], conflict: list[str]) -> bool:
    """``INSERT … ON CONFLICT (conflict) DO NOTHING`` on SQLite and PostgreSQL; True when the row was
    inserted. For rows that simultaneous requests may all try to create: a check-then-insert lets the
    loser fail with a unique violation (a 500) where this lets it find the winner's row."""
    from onboarding.extensions import db

    if db.session.get_bind().dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement: Any = pg_insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        statement = sqlite_insert(model).values(**values).on_conflict_do_nothing(index_elements=conflict)
    return bool(db.session.execute(statement).rowcount)  # type: ignore[attr-defined]
