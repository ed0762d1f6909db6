"""Delivering outbox messages: once per receiver, surviving a dead Redis, a crash after commit and a killed worker.

How a message travels:

1. ``schedule(category, payload)`` adds a row in the caller's transaction — it exists only if the change does.
2. After commit one job ``onboarding.tasks.deliver_outbox(id, …)`` is enqueued for the transaction's messages
   (per queue: ``email`` for mail, ``outbox`` otherwise); messages scheduled by receivers during a delivery
   job are delivered by that same job (:mod:`onboarding.outbox.batch`). If Redis is down the enqueue
   fails, a warning is logged, and the rows wait.
3. ``deliver(id)`` claims the row with one conditional UPDATE (a lease), so one deliverer works on it at a
   time; a deliverer that dies leaves a lease that simply runs out.
4. Each receiver runs in its own transaction together with an ``OutboxReceipt(message, receiver)`` row,
   which is unique: a receiver that already applied a message is skipped, and if two deliverers race, the
   loser's insert fails and its effect rolls back with it. (A receiver whose effect leaves the database —
   sending mail — can repeat only if the process dies between sending and committing the receipt.)
5. When every receiver has a receipt the message row is deleted. A failure records the error and moves
   ``scheduled_for`` out by doubling backoff capped at one hour (spec §1.9).
6. ``drain_due()`` (the periodic sweep, or ``onboarding outbox drain``) delivers every due message.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import current_app
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onboarding.database import write_intent
from onboarding.extensions import db, utcnow
from onboarding.outbox.models import OutboxMessage, OutboxReceipt

log = logging.getLogger(__name__)

Receiver = Callable[[dict[str, Any], int], None]
_RECEIVERS: dict[str, list[tuple[str, Receiver]]] = {}
_EXTERNAL: set[tuple[str, str]] = set()  # (category, name) of receivers whose effect leaves the database
MAX_DELAY = timedelta(hours=1)
QUEUE_FOR = {"email": "email"}


def receiver(category: str, name: str, *, external: bool = False) -> Callable[[Receiver], Receiver]:
    """Register ``fn(payload, message_id)`` for ``category``. Its database effect commits with its receipt.

    An ``external`` receiver (sending mail) acts outside the database and must not write to it: it runs
    with no transaction open, so a slow mail server never holds SQLite's write lock; its receipt is
    written afterwards. Receivers run in the order registered, and a failure stops the ones after it.
    """

    def decorator(fn: Receiver) -> Receiver:
        _RECEIVERS.setdefault(category, []).append((name, fn))
        if external:
            _EXTERNAL.add((category, name))
        return fn

    return decorator


def receivers_for(category: str) -> list[tuple[str, Receiver]]:
    # Receivers live with their features; importing them registers them.
    import onboarding.outbox.receivers  # noqa: F401

    found = list(_RECEIVERS.get(category, []))
    for dotted in current_app.config.get("OUTBOX_EXTRA_RECEIVERS", ()):
        module, _, attr = dotted.rpartition(".")
        extra_category, name, fn = getattr(importlib.import_module(module), attr)
        if extra_category == category:
            found.append((name, fn))
    return found


def schedule(category: str, payload: dict[str, Any]) -> OutboxMessage:
    """Add a message to the current transaction; after commit, ask a worker to deliver it."""
    now = utcnow()
    message = OutboxMessage(
        category=category, payload=payload, created_at=now, scheduled_from=now, scheduled_for=now
    )
    db.session.add(message)
    db.session.flush()
    from onboarding.outbox import batch

    batch.after_commit(message.id, category)  # one job for the transaction's messages (outbox.batch)
    return message


def schedule_detached(category: str, payload: dict[str, Any]) -> None:
    """Add a message in a transaction of its own, for code that runs after its caller's commit (the
    counter buffer when Redis is down); the periodic sweep delivers it."""
    with write_intent(True), Session(db.engine) as session, session.begin():
        session.add(OutboxMessage(category=category, payload=payload))


def enqueue_delivery(message_ids: int | list[int], category: str) -> None:
    """One job delivering ``message_ids``; inside a delivery job they join it instead (outbox.batch)."""
    from onboarding.outbox import batch
    from onboarding.queue import enqueue

    ids = [message_ids] if isinstance(message_ids, int) else list(message_ids)
    follow_ups = batch.inline_list()
    if follow_ups is not None:
        follow_ups.extend(ids)
        return
    try:
        enqueue("onboarding.tasks.deliver_outbox", *ids, queue=QUEUE_FOR.get(category, "outbox"))
    except Exception as exc:  # noqa: BLE001 - Redis down: the sweep delivers it later
        log.warning("could not enqueue outbox messages %s (%s); the sweep will deliver them", ids, exc)


def _lease() -> timedelta:
    return timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])


def _claim(message_id: int) -> OutboxMessage | None:
    now = utcnow()
    with write_intent(True):
        db.session.rollback()
        claimed = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.scheduled_for <= now)
            .values(scheduled_for=now + _lease())
            .returning(OutboxMessage.id)
        ).first()
        db.session.commit()
    if claimed is None:
        return None
    return db.session.get(OutboxMessage, message_id)


def deliver(message_id: int) -> bool:
    """Apply a due message with each receiver that has not yet; True when it is fully delivered."""
    message = _claim(message_id)
    if message is None:
        return False  # delivered already, not due yet, or another deliverer holds it
    category, payload = message.category, dict(message.payload)
    for name, fn in receivers_for(category):
        if (category, name) in _EXTERNAL:
            if not _apply_external(message_id, name, fn, payload):
                return False
            continue
        with write_intent(True):
            db.session.rollback()
            if _has_receipt(message_id, name):
                continue
            try:
                fn(payload, message_id)
                db.session.add(OutboxReceipt(message_id=message_id, receiver=name))
                db.session.commit()
            except IntegrityError as exc:
                db.session.rollback()
                if not _has_receipt(message_id, name):
                    # Not a second deliverer of this message: the effect itself ran into a row another
                    # message made meanwhile (two joins completing one task). Try again, never drop it.
                    _failed(message_id, name, exc)
                    return False
                # Another deliverer applied it first; its effect stands, ours is undone.
            except Exception as exc:
                _failed(message_id, name, exc)
                return False
    with write_intent(True):
        db.session.rollback()
        db.session.execute(delete(OutboxMessage).where(OutboxMessage.id == message_id))
        db.session.commit()
    return True


def _has_receipt(message_id: int, name: str) -> bool:
    return (
        db.session.scalar(
            select(OutboxReceipt.id).where(
                OutboxReceipt.message_id == message_id, OutboxReceipt.receiver == name
            )
        )
        is not None
    )


def _apply_external(message_id: int, name: str, fn: Receiver, payload: dict[str, Any]) -> bool:
    """Run an external receiver with no transaction held, then write its receipt; False on failure."""
    with write_intent(False):
        db.session.rollback()
        done = _has_receipt(message_id, name)
        db.session.rollback()  # end the read: nothing is held while the mail server takes its time
    if done:
        return True
    try:
        fn(payload, message_id)
    except Exception as exc:
        _failed(message_id, name, exc)
        return False
    with write_intent(True):
        db.session.rollback()
        try:
            db.session.add(OutboxReceipt(message_id=message_id, receiver=name))
            db.session.commit()
        except IntegrityError:
            db.session.rollback()  # another deliverer recorded it first
    return True


def _failed(message_id: int, name: str, exc: Exception) -> None:
    db.session.rollback()
    _reschedule(message_id, f"{name}: {type(exc).__name__}: {exc}")
    log.warning("outbox message %s receiver %s failed: %s", message_id, name, exc)


def _reschedule(message_id: int, error: str) -> None:
    with write_intent(True):
        message = db.session.get(OutboxMessage, message_id)
        if message is None:
            return
        now = utcnow()
        last = max(message.scheduled_for - message.scheduled_from - _lease(), timedelta(seconds=1))
        delay = min(last * 2, MAX_DELAY)
        message.scheduled_from, message.scheduled_for = now, now + delay
        message.attempts += 1
        message.last_error = error[:2000]
        db.session.commit()


def drain_due(limit: int = 500) -> int:
    """Deliver every message that is due now; returns how many were fully delivered."""
    ids = list(
        db.session.scalars(
            select(OutboxMessage.id)
            .where(OutboxMessage.scheduled_for <= utcnow())
            .order_by(OutboxMessage.id)
            .limit(limit)
        )
    )
    db.session.rollback()
    return sum(1 for message_id in ids if deliver(message_id))


def prune_receipts(older_than: timedelta = timedelta(days=7)) -> int:
    """Receipts only matter while a message may still be delivered; drop old ones."""
    with write_intent(True):
        result = db.session.execute(
            delete(OutboxReceipt).where(OutboxReceipt.applied_at < utcnow() - older_than)
        )
        db.session.commit()
    return result.rowcount or 0  # type: ignore[attr-defined]


def backlog(older_than: timedelta | None = None) -> int:
    """Messages waiting; with ``older_than``, only those that should have gone out by now."""
    query = select(func.count(OutboxMessage.id))
    if older_than is not None:
        query = query.where(OutboxMessage.created_at < utcnow() - older_than)
    return db.session.scalar(query) or 0
