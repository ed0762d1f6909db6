"""Who is asking: the client's address as the trusted proxies report it."""

from __future__ import annotations

from flask import request


def client_ip() -> str | None:
    # ProxyFix (ONBOARDING_TRUSTED_PROXIES) has already put the real client address here.
    return request.remote_addr
