"""Fixed-window counters for throttles, in Redis, falling back to process memory when Redis is down.

Sign-in must keep working when Redis is unreachable (SECURITY.md), so a Redis error never reaches the
caller: the count moves to memory for that process, and a warning is logged (once a minute at most).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
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
    now = clock()
    key, window_end = _key(limit, subject, now)
    try:
        raw = get_redis().get(key)
        count = int(raw) if raw else 0
    except REDIS_DOWN as exc:
        _warn(exc)
        count = 0
    count = max(count, memory.get(key))
    return max(1, int(window_end - now)) if count >= limit.limit else 0


def hit(limit: Limit, subject: str) -> int:
    """Count one event for ``subject``; returns the count in the current window."""
    now = clock()
    key, window_end = _key(limit, subject, now)
    ttl = max(1, int(window_end - now)) + 1
    try:
        pipe = get_redis().pipeline()
        pipe.incr(key)
        pipe.expire(key, ttl)
        count, _ = pipe.execute()
        return int(count)
    except REDIS_DOWN as exc:
        _warn(exc)
        return memory.incr(key, ttl)


def reset(limit: Limit, subject: str) -> None:
    key, _ = _key(limit, subject, clock())
    try:
        get_redis().delete(key)
    except REDIS_DOWN as exc:
        _warn(exc)
