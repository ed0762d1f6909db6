"""Fixed-window counters for throttles, in Redis, falling back to process memory when Redis is down.

Sign-in must keep working when Redis is unreachable (SECURITY.md), so a Redis error never reaches the
caller: the count moves to memory for that process, and a warning is logged (once a minute at most).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from onboarding.redisconn import REDIS_DOWN, get_redis

log = logging.getLogger(__name__)


def clock() -> float:
    """The limiter's time (seconds since the epoch); tests hold it still, so that no test's hits straddle
    the end of a fixed window."""
    return time.time()


@dataclass(frozen=True)
class Limit:
    name: str
    limit: int
    window: int  # seconds


class _MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, float]] = {}

    def get(self, key: str) -> int:
        with self._lock:
            count, expires = self._counts.get(key, (0, 0.0))
            return count if expires > clock() else 0

    def incr(self, key: str, ttl: int) -> int:
        now = clock()
        with self._lock:
            if len(self._counts) > 50_000:  # bounded: drop what has expired
                self._counts = {k: v for k, v in self._counts.items() if v[1] > now}
            count, expires = self._counts.get(key, (0, 0.0))
            if expires <= now:
                count, expires = 0, now + ttl
            self._counts[key] = (count + 1, expires)
            return count + 1

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


memory = _MemoryStore()
_last_warning = 0.0


def _warn(exc: BaseException) -> None:
    global _last_warning
    if time.time() - _last_warning > 60:
        _last_warning = time.time()
        log.warning("Redis unreachable for rate limits (%s); counting in process memory", exc)


def _key(limit: Limit, subject: str, now: float) -> tuple[str, int]:
    window_start = int(now // limit.window) * limit.window
    digest = hashlib.sha256(subject.encode()).hexdigest()[:32]  # no raw emails or IPs in Redis keys
    return f"rl:{limit.name}:{digest}:{window_start}", window_start + limit.window


def retry_after(limit: Limit, subject: str) -> int:
    """Seconds until ``subject`` may try again, or 0 when it is under the limit."""
    return retry_after_any([(limit, subject)])


def retry_after_any(checks: Sequence[tuple[Limit, str]]) -> int:
    """The longest wait among several (limit, subject) checks, read in one Redis round trip (MGET)."""
    if not checks:
        return 0
    now = clock()
    keys = [_key(limit, subject, now) for limit, subject in checks]
    try:
        raw = get_redis().mget([key for key, _ in keys])
    except REDIS_DOWN as exc:
        _warn(exc)
        raw = [None] * len(keys)
    wait = 0
    for (limit, _), (key, window_end), value in zip(checks, keys, raw, strict=True):
        count = max(int(value) if value else 0, memory.get(key))
        if count >= limit.limit:
            wait = max(wait, max(1, int(window_end - now)))
    return wait


def hit(limit: Limit, subject: str) -> int:
    """Count one event for ``subject``; returns the count in the current window."""
    return hit_all([(limit, subject)])[0]


def hit_all(checks: Sequence[tuple[Limit, str]]) -> list[int]:
    """Count one event for each (limit, subject), in one Redis round trip; returns the counts.

    A plain pipeline (no MULTI/EXEC): INCR and EXPIRE of a key travel together, and a counter whose
    EXPIRE were lost would still be named after its window, so it could never count in a later one."""
    now = clock()
    keys = []
    for limit, subject in checks:
        key, window_end = _key(limit, subject, now)
        keys.append((key, max(1, int(window_end - now)) + 1))
    try:
        pipe = get_redis().pipeline(transaction=False)
        for key, ttl in keys:
            pipe.incr(key)
            pipe.expire(key, ttl)
        results = pipe.execute()
        return [int(count) for count in results[::2]]
    except REDIS_DOWN as exc:
        _warn(exc)
        return [memory.incr(key, ttl) for key, ttl in keys]


def reset(limit: Limit, subject: str) -> None:
    key, _ = _key(limit, subject, clock())
    try:
        get_redis().delete(key)
    except REDIS_DOWN as exc:
        _warn(exc)
