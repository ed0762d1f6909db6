"""An organization's teams as JSON: ``/api/0/organizations/<slug>/teams/[<team_slug>/]``.

Anyone in the organization reads them; admins and up (``team:write``) create, change and delete them.
Members join and leave teams through ``PUT …/members/<id>/`` with ``teams``.
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from onboarding.api import bp, error, iso
from onboarding.api.members import org_api, serialize_member
from onboarding.extensions import db
from onboarding.orgs.models import Team
from onboarding.teams import service as teams
from onboarding.web.client import client_ip

NOT_FOUND = "The requested resource does not exist"


def serialize_team(team: Team, *, with_members: bool = False) -> dict[str, Any]:
    members = teams.members_of(team)
    body: dict[str, Any] = {
        "id": str(team.id),
        "slug": team.slug,
        "name": team.name,
        "memberCount": len(members),
        "dateCreated": iso(team.date_added),
    }
    if with_members:
        body["members"] = [serialize_member(m) for m in members]
    return body


def _json_object() -> dict[str, Any] | None:
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else None


def _team_error(exc: teams.TeamError) -> Any:
    db.session.rollback()
    return error(400, {exc.field: [exc.message]} if exc.field else exc.message)


@bp.route("/organizations/<org_slug>/teams/", methods=["GET"])
@org_api()
def list_teams(org_slug: str) -> Any:
    return jsonify([serialize_team(t) for t in teams.teams_of(g.org)])


@bp.route("/organizations/<org_slug>/teams/", methods=["POST"])
@org_api("team:write")
def create_team(org_slug: str) -> Any:
    data = _json_object()
    if data is None:
        return error(400, "Send a JSON object.")
    try:
        team = teams.create_team(g.org, g.api_actor, data.get("name"), slug=data.get("slug"), ip=client_ip())
    except teams.TeamError as exc:
        return _team_error(exc)
    db.session.commit()
    return jsonify(serialize_team(team)), 201


@bp.route("/organizations/<org_slug>/teams/<team_slug>/", methods=["GET"])
@org_api()
def get_team(org_slug: str, team_slug: str) -> Any:
    team = teams.get_team(g.org, team_slug)
    if team is None:
        return error(404, NOT_FOUND)
    return jsonify(serialize_team(team, with_members=True))


@bp.route("/organizations/<org_slug>/teams/<team_slug>/", methods=["PUT"])
@org_api("team:write")
def update_team(org_slug: str, team_slug: str) -> Any:
    team = teams.get_team(g.org, team_slug)
    if team is None:
        return error(404, NOT_FOUND)
    data = _json_object()
    if data is None:
        return error(400, "Send a JSON object.")
    if "name" not in data and "slug" not in data:
        return error(400, 'Send "name" and/or "slug".')
    if "name" in data and not (isinstance(data["name"], str) and data["name"].strip()):
        return error(400, {"name": ["Enter a name for the team."]})
    try:
        teams.edit_team(team, g.api_actor, name=data.get("name"), slug=data.get("slug"), ip=client_ip())
    except teams.TeamError as exc:
        return _team_error(exc)
    db.session.commit()
    return jsonify(serialize_team(team, with_members=True))


@bp.route("/organizations/<org_slug>/teams/<team_slug>/", methods=["DELETE"])
@org_api("team:write")
def delete_team(org_slug: str, team_slug: str) -> Any:
    team = teams.get_team(g.org, team_slug)
    if team is None:
        return error(404, NOT_FOUND)
    teams.delete_team(team, g.api_actor, ip=client_ip())
    db.session.commit()
    return "", 204
