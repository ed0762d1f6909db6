"""``/api/0/``: the JSON API. Errors are JSON (``{"detail": …}`` or field errors ``{"field": [...]}``).

Authentication: the browser session (unsafe methods need the ``X-CSRFToken`` header, checked by
CSRFProtect like every POST), or ``Authorization: Bearer <token>`` once personal API tokens exist.
Feature modules add their routes to ``bp`` and are imported at the bottom.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify
from werkzeug.wrappers import Response

bp = Blueprint("api", __name__, url_prefix="/api/0")


def error(status: int, detail: Any) -> tuple[Response, int]:
    """``{"detail": "…"}`` for a message, or the mapping itself for field errors."""
    body = detail if isinstance(detail, dict) else {"detail": detail}
    return jsonify(body), status


def throttled(answer: tuple[Response, int], retry_after: int) -> tuple[Response, int]:
    """``answer`` with ``Retry-After`` (seconds) when it is a rate limit's 429 (SECURITY.md)."""
    if retry_after:
        answer[0].headers["Retry-After"] = str(retry_after)
    return answer


def serialize_user(user: Any) -> dict[str, Any] | None:
    if user is None:
        return None
    return {"id": str(user.id), "email": user.email, "name": user.name}


def iso(dt: Any) -> str | None:
    return dt.isoformat() + "Z" if dt is not None else None


import onboarding.api.avatars  # noqa: E402,F401
import onboarding.api.deletion  # noqa: E402,F401
import onboarding.api.invite_links  # noqa: E402,F401
import onboarding.api.orgs  # noqa: E402,F401
from onboarding.api import (  # noqa: E402,F401  (routes, authentication and the OpenAPI registry)
    auth,
    invites,
    members,
    openapi,
    schemas_invites,
    teams,
    tokens,
)
