"""Shareable invite links as JSON: ``/api/0/organizations/<slug>/invite-links/[<link_id>/]``.

Managers and owners (``member:invite``) list, create and revoke; the link's URL is in the creation answer
only (only its hash is stored).
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from onboarding.api import bp, error, iso, throttled
from onboarding.api.members import org_api
from onboarding.api.openapi import ERROR, register_operation
from onboarding.extensions import db
from onboarding.invitelinks import service as links
from onboarding.invitelinks.models import InviteLink
from onboarding.invites import service as invites
from onboarding.web.client import client_ip

RULE = "/api/0/organizations/<org_slug>/invite-links/"

LINK: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "role",
        "maxUses",
        "uses",
        "expiresAt",
        "allowedDomains",
        "requireApproval",
        "revoked",
    ],
    "properties": {
        "id": {"type": "string"},
        "role": {"type": "string"},
        "maxUses": {"type": ["integer", "null"]},
        "uses": {"type": "integer"},
        "expiresAt": {"type": "string"},
        "allowedDomains": {"type": "array", "items": {"type": "string"}},
        "requireApproval": {"type": "boolean"},
        "revoked": {"type": "boolean"},
        "dateCreated": {"type": "string"},
        "url": {"type": "string"},
    },
}


def serialize_link(link: InviteLink) -> dict[str, Any]:
    return {
        "id": str(link.id),
        "role": link.role,
        "maxUses": link.max_uses,
        "uses": link.uses,
        "expiresAt": iso(link.expires_at),
        "allowedDomains": list(link.allowed_domains),
        "requireApproval": link.require_approval,
        "revoked": link.revoked_at is not None,
        "dateCreated": iso(link.date_created),
    }


def _int_or_none(value: Any, field: str, default: int | None) -> int | None:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int):
        raise links.LinkError("Send a whole number.", field)
    return value


@bp.route("/organizations/<org_slug>/invite-links/", methods=["GET"])
@org_api("member:invite")
def list_invite_links(org_slug: str) -> Any:
    return jsonify([serialize_link(link) for link in links.links_of(g.org)])


@bp.route("/organizations/<org_slug>/invite-links/", methods=["POST"])
@org_api("member:invite")
def create_invite_link(org_slug: str) -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "Send a JSON object.")
    try:
        role = data.get("role", "member")
        if not isinstance(role, str):
            raise links.LinkError("Choose a valid role.", "role")
        max_uses = _int_or_none(data.get("maxUses"), "maxUses", None)
        expires_days = _int_or_none(data.get("expiresDays"), "expiresDays", 7)
        require_approval = data.get("requireApproval", False)
        if not isinstance(require_approval, bool):
            raise links.LinkError("Send true or false.", "requireApproval")
        domains = links.parse_domains(data.get("allowedDomains") or [])
        link, raw = links.create(
            g.org,
            g.api_actor,
            g.api_role,
            role=role,
            max_uses=max_uses,
            expires_days=expires_days if expires_days is not None else 7,
            allowed_domains=domains,
            require_approval=require_approval,
            ip=client_ip(),
        )
    except links.LinkError as exc:
        db.session.rollback()
        field = {
            "max_uses": "maxUses",
            "expires_days": "expiresDays",
            "allowed_domains": "allowedDomains",
        }.get(exc.field or "", exc.field)
        answer = error(exc.status, {field: [exc.message]} if field else exc.message)
        return throttled(answer, exc.retry_after)
    db.session.commit()
    body = serialize_link(link)
    body["url"] = f"{invites.base_url()}/join/{raw}/"
    resp = jsonify(body)
    resp.headers["Cache-Control"] = "no-store"
    return resp, 201


@bp.route("/organizations/<org_slug>/invite-links/<int:link_id>/", methods=["DELETE"])
@org_api("member:invite")
def revoke_invite_link(org_slug: str, link_id: int) -> Any:
    link = links.get(g.org, link_id)
    if link is None:
        return error(404, "The requested resource does not exist")
    try:
        links.revoke(link, g.api_actor, g.api_role, ip=client_ip())
    except links.LinkError as exc:
        db.session.rollback()
        return error(exc.status, exc.message)
    db.session.commit()
    return "", 204


register_operation(
    "GET",
    RULE,
    summary="List the organization's invite links",
    scopes=["member:read"],
    tags=["invite-links"],
    responses={200: {"type": "array", "items": LINK}, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "POST",
    RULE,
    summary="Create an invite link (its URL is in this answer only)",
    scopes=["member:write"],
    tags=["invite-links"],
    request_body={
        "type": "object",
        "properties": {
            "role": {"type": "string"},
            "maxUses": {"type": ["integer", "null"], "minimum": 1, "maximum": links.MAX_USES},
            "expiresDays": {"type": "integer", "minimum": 1, "maximum": 90},
            "allowedDomains": {"type": "array", "items": {"type": "string"}},
            "requireApproval": {"type": "boolean"},
        },
    },
    responses={201: LINK, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR, 422: ERROR, 429: ERROR},
)
register_operation(
    "DELETE",
    RULE + "<int:link_id>/",
    summary="Revoke an invite link",
    scopes=["member:write"],
    tags=["invite-links"],
    responses={204: None, 401: ERROR, 403: ERROR, 404: ERROR},
)
