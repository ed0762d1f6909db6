"""The Redis connection used for jobs, rate limits and counters."""

from __future__ import annotations

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError

# What redis-py really raises when Redis is unreachable or a connection breaks: its own errors, socket
# errors that slip through (reset, broken pipe), and ValueError("I/O operation on closed file") from a
# connection closed under a command. Fallbacks catch all of these.
REDIS_DOWN: tuple[type[Exception], ...] = (RedisError, OSError, ValueError)


def redis_url() -> str:
    url = current_app.config.get("REDIS_URL")
    if not url:
        # No URL and no embedded server started for us (``serve`` sets the URL for its children).
        from onboarding.embedded_redis import socket_url

        url = socket_url(current_app.instance_path)
    return str(url)


def get_redis() -> Redis:
    """A client with short timeouts, so an unreachable Redis fails fast instead of hanging requests."""
    ext = current_app.extensions.setdefault("onboarding_redis", {})
    url = redis_url()
    client = ext.get(url)
    if client is None:
        client = Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2, health_check_interval=30)
        ext[url] = client
    return client
