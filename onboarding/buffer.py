"""Counters buffered in Redis and flushed to the database by a job (Sentry's buffer, spec §1.14).

``incr(Model, {"column": n}, {"filter": value}, extra={...})`` adds to a Redis hash per (table, filters);
``flush()`` moves each hash aside atomically, applies it in one database transaction together with a
``buffer_flush`` row naming the hash, and only then deletes the hash. A flush that dies mid-way leaves
the hash for the next flush; a hash already recorded in ``buffer_flush`` is never applied twice; two
flushes at once race on that unique row and the loser's transaction rolls back whole.

When Redis is unreachable the increment is written to the outbox instead (same transaction as the
caller's change) and applied later by its receiver, with a logged warning.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app
from redis.exceptions import RedisError
from sqlalchemy import DateTime, Integer, String, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.database import on_commit, write_intent
from onboarding.extensions import db, utcnow
from onboarding.redisconn import REDIS_DOWN, get_redis

log = logging.getLogger(__name__)

PENDING = "buffer:pending"
PROCESSING = "buffer:processing"
LAST_FLUSH = "buffer:last_flush"


class BufferFlush(db.Model):  # type: ignore[name-defined,misc]
    """A Redis hash whose counts are in the database already."""

    __tablename__ = "buffer_flush"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(200), unique=True)
    applied_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


def _model(table: str) -> Any:
    for mapper in db.Model.registry.mappers:  # type: ignore[attr-defined]
        if mapper.class_.__tablename__ == table:
            return mapper.class_
    raise KeyError(f"no model for table {table!r}")


def _key(table: str, filters: dict[str, Any]) -> str:
    return f"buffer:{table}:{json.dumps(filters, sort_keys=True, separators=(',', ':'))}"


def pending(model: Any, filters: dict[str, Any]) -> dict[str, int]:
    """Counts buffered in Redis and not yet flushed for the row matching ``filters`` (``{}`` when Redis is
    down), so a page can show a counter right after the action instead of after the next flush."""
    try:
        raw = get_redis().hgetall(_key(model.__tablename__, filters))
    except REDIS_DOWN:
        return {}
    counts: dict[str, int] = {}
    for field, value in raw.items():
        name = field.decode() if isinstance(field, bytes) else str(field)
        if name.startswith("c:"):
            counts[name[2:]] = int(value)
    return counts


def incr(
    model: Any, columns: dict[str, int], filters: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    """Count ``columns`` for the row matching ``filters`` (created if missing), after the caller commits."""
    payload = _payload(model, columns, filters, extra)
    on_commit(lambda: _push(payload))


def incr_now(
    model: Any, columns: dict[str, int], filters: dict[str, Any], extra: dict[str, Any] | None = None
) -> None:
    """The same, for code that has already committed the row it counts (it is not in a transaction)."""
    _push(_payload(model, columns, filters, extra))


def _payload(
    model: Any, columns: dict[str, int], filters: dict[str, Any], extra: dict[str, Any] | None
) -> dict[str, Any]:
    return {
        "table": model.__tablename__,
        "columns": columns,
        "filters": filters,
        "extra": _jsonable(extra or {}),
    }


def _push(payload: dict[str, Any]) -> None:
    key = _key(payload["table"], payload["filters"])
    try:
        pipe = get_redis().pipeline(transaction=True)
        for column, amount in payload["columns"].items():
            pipe.hincrby(key, f"c:{column}", amount)
        for name, value in payload["extra"].items():
            pipe.hset(key, f"e:{name}", json.dumps(value))
        pipe.sadd(PENDING, key)
        pipe.execute()
    except REDIS_DOWN as exc:
        log.warning("Redis unreachable for counters (%s); writing %s through the outbox", exc, key)
        _via_outbox(payload)
        return
    _schedule_flush()


FLUSH_EVERY = 5  # seconds: counts reach the database within about this long


def _schedule_flush() -> None:
    """Ask for a flush at the next slot boundary. The job id names the slot, so a burst of increments
    schedules one flush, not one each (the periodic sweep flushes too, should this be lost)."""
    from onboarding.queue import enqueue_at_slot

    try:
        enqueue_at_slot(
            "onboarding.tasks.flush_buffer", every=FLUSH_EVERY, prefix="buffer-flush", queue="default"
        )
    except Exception as exc:  # noqa: BLE001 - the periodic sweep flushes anyway
        log.warning("could not schedule a counter flush (%s)", exc)


def init_app(app: Flask, *, fallback: Callable[[dict[str, Any]], None]) -> None:
    """``fallback(payload)`` keeps an increment that Redis could not take (the outbox, whose receiver
    calls :func:`apply`); it runs after the caller's commit, so it must use a transaction of its own."""
    app.extensions["buffer_fallback"] = fallback


def _via_outbox(payload: dict[str, Any]) -> None:
    current_app.extensions["buffer_fallback"](payload)


def _jsonable(extra: dict[str, Any]) -> dict[str, Any]:
    return {k: ({"$dt": v.isoformat()} if isinstance(v, datetime) else v) for k, v in extra.items()}


def _from_json(value: Any) -> Any:
    return datetime.fromisoformat(value["$dt"]) if isinstance(value, dict) and "$dt" in value else value


def apply(table: str, columns: dict[str, int], filters: dict[str, Any], extra: dict[str, Any] | None) -> None:
    """Add the counts to the row (create-or-update; a NULL counter counts from 0). Not committed."""
    model = _model(table)
    values = {k: _from_json(v) for k, v in (extra or {}).items()}
    conditions = [getattr(model, k) == v for k, v in filters.items()]
    updated = db.session.execute(
        update(model)
        .where(*conditions)
        .values(
            **{c: db.func.coalesce(getattr(model, c), 0) + n for c, n in columns.items()},
            **values,
        )
    )
    if not updated.rowcount:  # type: ignore[attr-defined]
        db.session.add(model(**filters, **columns, **values))
        db.session.flush()


def flush() -> int:
    """Apply every pending hash; returns how many hashes were applied by this call."""
    redis = get_redis()
    for key in redis.smembers(PENDING):
        name = key.decode() if isinstance(key, bytes) else key
        taken = f"{name}|{uuid.uuid4().hex}"
        pipe = redis.pipeline(transaction=True)
        pipe.srem(PENDING, name)
        pipe.rename(name, taken)
        pipe.sadd(PROCESSING, taken)
        try:
            pipe.execute()
        except RedisError:
            redis.srem(PROCESSING, taken)  # the hash was gone (another flush took it)
    applied = 0
    for raw in redis.smembers(PROCESSING):
        taken = raw.decode() if isinstance(raw, bytes) else raw
        if _apply_hash(redis, taken):
            applied += 1
        redis.delete(taken)
        redis.srem(PROCESSING, taken)
    redis.set(LAST_FLUSH, utcnow().isoformat() + "Z")
    with write_intent(True):
        db.session.execute(delete(BufferFlush).where(BufferFlush.applied_at < utcnow() - timedelta(days=2)))
        db.session.commit()
    return applied


def _apply_hash(redis: Any, taken: str) -> bool:
    data = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in redis.hgetall(taken).items()
    }
    if not data:
        return False
    _, table, filters_json = taken.rsplit("|", 1)[0].split(":", 2)
    columns = {k[2:]: int(v) for k, v in data.items() if k.startswith("c:")}
    extra = {k[2:]: json.loads(v) for k, v in data.items() if k.startswith("e:")}
    with write_intent(True):
        db.session.rollback()
        if db.session.scalar(select(BufferFlush.id).where(BufferFlush.key == taken)) is not None:
            return False  # applied by an earlier flush that died before deleting the hash
        try:
            db.session.add(BufferFlush(key=taken))
            db.session.flush()  # claim first: a concurrent flush of the same hash fails here
            apply(table, columns, json.loads(filters_json), extra)
            db.session.commit()
        except IntegrityError:
            db.session.rollback()
            return False
    return True
