"""``/api/0/api-tokens/``: the caller's own personal API tokens (metadata only; never the token)."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from onboarding.api import bp, error, iso
from onboarding.api.auth import api_login_required, api_user
from onboarding.api.openapi import ERROR, register_operation
from onboarding.extensions import db
from onboarding.tokens import service as tokens

TOKEN: dict[str, Any] = {
    "type": "object",
    "required": ["id", "name", "scopes", "tokenPrefix", "dateCreated", "lastUsed"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "scopes": {"type": "array", "items": {"type": "string", "enum": list(tokens.SCOPES)}},
        "tokenPrefix": {"type": "string"},
        "dateCreated": {"type": "string", "format": "date-time"},
        "lastUsed": {"type": "string", "format": "date-time", "nullable": True},
    },
    "additionalProperties": False,
}


def serialize_token(token: Any) -> dict[str, Any]:
    return {
        "id": str(token.id),
        "name": token.name,
        "scopes": token.scopes,
        "tokenPrefix": token.prefix,
        "dateCreated": iso(token.date_created),
        "lastUsed": iso(token.last_used_at),
    }


@bp.get("/api-tokens/")
@api_login_required
def list_tokens() -> Response:
    return jsonify([serialize_token(t) for t in tokens.tokens_for(api_user())])


@bp.delete("/api-tokens/<int:token_id>/")
@api_login_required
def revoke_token(token_id: int) -> Response | tuple[Response, int]:
    if not tokens.revoke(api_user(), token_id):
        return error(404, "No such token.")
    db.session.commit()
    return Response(status=204)


register_operation(
    "GET",
    "/api/0/api-tokens/",
    summary="List your personal API tokens",
    responses={200: {"type": "array", "items": TOKEN}, 401: ERROR},
    tags=["tokens"],
)
register_operation(
    "DELETE",
    "/api/0/api-tokens/<int:token_id>/",
    summary="Revoke one of your personal API tokens",
    scopes=["user:write"],
    responses={204: None, 401: ERROR, 403: ERROR, 404: ERROR},
    tags=["tokens"],
)
