"""Who is calling the API: a personal API token (``Authorization: Bearer``) or the browser session.

Every ``/api/0/`` request passes :func:`authenticate` first:

- With an ``Authorization`` header, it must be ``Bearer <token>`` for a live token of an active user,
  or the answer is 401 JSON. The token's user becomes ``current_user`` for this request (and
  ``g.api_token_user``); such requests need no CSRF token (a script cannot be tricked into sending
  one by a third-party page). Scopes registered for the operation in :mod:`onboarding.api.openapi`,
  or required with :func:`require_scope`, are checked (403 JSON when missing).
- Without it, the session cookie authenticates and unsafe methods need the CSRF token
  (``X-CSRFToken``), checked here because the blueprint is exempt from the global check.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.api import bp, error
from onboarding.extensions import csrf

F = TypeVar("F", bound=Callable[..., Any])

csrf.exempt(bp)


def api_user() -> Any:
    """The authenticated user of this API request (token first, then session), or None."""
    token_user = g.get("api_token_user")
    if token_user is not None:
        return token_user
    if current_user.is_authenticated:
        return current_user._get_current_object()  # type: ignore[attr-defined]
    return None


def api_login_required(view: F) -> F:
    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if api_user() is None:
            return error(401, "Authentication credentials were not provided.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def missing_scopes(*needed: str) -> list[str]:
    """Scopes this request lacks: none for session requests, which are limited by roles instead."""
    token = g.get("api_token")
    if token is None:
        return []
    from onboarding.tokens.service import effective_scopes

    have = effective_scopes(token.scopes)
    return [s for s in needed if s not in have]


def require_scope(*needed: str) -> Callable[[F], F]:
    """For bearer-token requests, 403 unless the token has every scope in ``needed``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            lacking = missing_scopes(*needed)
            if lacking:
                return error(403, f"This token lacks the scope {', '.join(lacking)}.")
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def _unauthorized(message: str) -> tuple[Response, int]:
    resp, status = error(401, message)
    resp.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return resp, status


@bp.before_request
def authenticate() -> tuple[Response, int] | None:
    # ``g`` outlives a request when an app context was already pushed (tests, jobs): never let a token
    # from an earlier request authenticate this one.
    g.pop("api_token", None)
    if g.pop("api_token_user", None) is not None:
        g.pop("_login_user", None)
    header = request.headers.get("Authorization")
    if header is not None:
        scheme, _, raw = header.strip().partition(" ")
        raw = raw.strip()
        if scheme.lower() != "bearer" or not raw:
            return _unauthorized("Use the header Authorization: Bearer <token>.")
        from onboarding.tokens.service import authenticate as check_token

        token = check_token(raw)
        if token is None:
            return _unauthorized("Invalid token.")
        g.api_token, g.api_token_user = token, token.user
        g._login_user = token.user  # current_user for this request; no session is created
        from onboarding.api.openapi import operation_for

        op = operation_for(request.method, request.url_rule.rule) if request.url_rule else None
        lacking = missing_scopes(*(op.scopes if op else []))
        if lacking:
            return error(403, f"This token lacks the scope {', '.join(lacking)}.")
        return None
    cfg = current_app.config
    unsafe = request.method not in ("GET", "HEAD", "OPTIONS", "TRACE")
    if unsafe and cfg.get("WTF_CSRF_ENABLED", True) and cfg.get("WTF_CSRF_CHECK_DEFAULT", True):
        csrf.protect()
    return None
