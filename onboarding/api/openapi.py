"""The OpenAPI 3 document at ``/api/0/openapi.json``, built from a registry that endpoints fill in.

Every route under ``/api/0/`` must be registered (a test checks the URL map against the registry),
and its responses must match what it registers (schemathesis checks that in CI). Register next to
the view, with the Flask rule as written in ``@bp.route`` (including ``/api/0``)::

    from onboarding.api.openapi import ERROR, register_operation

    register_operation(
        "GET", "/api/0/organizations/<org_slug>/members/",
        summary="List members and invites",
        scopes=["member:read"],            # needed by a bearer token (a write scope includes read)
        responses={200: {"type": "array", "items": MEMBER}, 401: ERROR, 403: ERROR, 404: ERROR},
        request_body=None,                 # or a JSON schema for POST/PUT bodies
        query=None,                        # or {"name": schema} for query parameters
    )

Path parameters come from the rule (``<int:x>`` is an integer, anything else a string). Operations
marked ``scopes`` are enforced for token requests by :mod:`onboarding.api.auth` before the view runs;
``auth=False`` documents an operation that needs no credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import jsonify
from werkzeug.wrappers import Response

from onboarding.api import bp

ERROR: dict[str, Any] = {"$ref": "#/components/schemas/Error"}
_RULE_PARAM = re.compile(r"<(?:(?P<conv>[a-z]+):)?(?P<name>\w+)>")


@dataclass
class Operation:
    method: str
    rule: str
    summary: str
    responses: dict[int, dict[str, Any] | None]
    scopes: list[str] = field(default_factory=list)
    request_body: dict[str, Any] | None = None
    query: dict[str, dict[str, Any]] | None = None
    auth: bool = True
    tags: list[str] = field(default_factory=list)


REGISTRY: dict[tuple[str, str], Operation] = {}


def register_operation(
    method: str,
    rule: str,
    *,
    summary: str,
    responses: dict[int, dict[str, Any] | None],
    scopes: list[str] | None = None,
    request_body: dict[str, Any] | None = None,
    query: dict[str, dict[str, Any]] | None = None,
    auth: bool = True,
    tags: list[str] | None = None,
) -> Operation:
    """Describe one API operation; registering the same method and rule again replaces it."""
    op = Operation(
        method=method.upper(),
        rule=rule,
        summary=summary,
        responses=responses,
        scopes=list(scopes or []),
        request_body=request_body,
        query=query,
        auth=auth,
        tags=list(tags or []),
    )
    REGISTRY[(op.method, rule)] = op
    return op


def operation_for(method: str, rule: str) -> Operation | None:
    if method == "HEAD":
        method = "GET"
    return REGISTRY.get((method, rule))


def openapi_path(rule: str) -> str:
    return _RULE_PARAM.sub(lambda m: "{" + m.group("name") + "}", rule)


def _operation_doc(op: Operation) -> dict[str, Any]:
    params: list[dict[str, Any]] = [
        {
            "name": m.group("name"),
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 0, "maximum": 2**31 - 1}
            if m.group("conv") == "int"
            else {"type": "string", "minLength": 1},
        }
        for m in _RULE_PARAM.finditer(op.rule)
    ]
    for name, schema in (op.query or {}).items():
        params.append({"name": name, "in": "query", "required": False, "schema": schema})
    responses: dict[str, Any] = {}
    for status, body in sorted(op.responses.items()):
        entry: dict[str, Any] = {"description": _REASONS.get(status, "Response")}
        if body is not None:
            entry["content"] = {"application/json": {"schema": body}}
        responses[str(status)] = entry
    doc: dict[str, Any] = {
        "summary": op.summary,
        "operationId": f"{op.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', op.rule.lower()).strip('_')}",
        "parameters": params,
        "responses": responses,
    }
    if op.tags:
        doc["tags"] = op.tags
    if op.request_body is not None:
        doc["requestBody"] = {"required": True, "content": {"application/json": {"schema": op.request_body}}}
    if not op.auth:
        doc["security"] = []
    elif op.scopes:
        doc["description"] = "Bearer tokens need the scopes: " + ", ".join(op.scopes) + "."
    return doc


_REASONS = {
    200: "OK",
    201: "Created",
    202: "Accepted",
    204: "No content",
    400: "Bad request",
    401: "Not authenticated",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    422: "Invalid input",
    429: "Too many requests",
}


def document() -> dict[str, Any]:
    from onboarding.version import __version__

    paths: dict[str, dict[str, Any]] = {}
    for op in sorted(REGISTRY.values(), key=lambda o: (o.rule, o.method)):
        paths.setdefault(openapi_path(op.rule), {})[op.method.lower()] = _operation_doc(op)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Onboarding API",
            "version": __version__,
            "description": "Authenticate with the browser session (unsafe methods need the X-CSRFToken "
            "header) or with a personal API token: Authorization: Bearer <token>.",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {"detail": {"type": "string"}},
                    "required": ["detail"],
                }
            },
            "securitySchemes": {
                "token": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "onboarding_session"},
            },
        },
        "security": [{"token": []}, {"session": []}],
    }


@bp.get("/openapi.json")
def openapi_json() -> Response:
    return jsonify(document())


register_operation(
    "GET",
    "/api/0/openapi.json",
    summary="This OpenAPI document",
    responses={200: {"type": "object", "required": ["openapi", "paths"]}},
    auth=False,
    tags=["meta"],
)
