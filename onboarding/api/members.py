"""Members and invites of an organization, and its audit log, as JSON (contract: JSON API)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from flask import g, jsonify, request, url_for
from sqlalchemy import select

from onboarding.api import bp, error, iso, serialize_user, throttled
from onboarding.api.auth import api_login_required, api_user
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db, utcnow
from onboarding.invites import service as invites
from onboarding.members import service as rules
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import InviteStatus, Organization, OrganizationMember, OrgFlags, Team
from onboarding.twofactor.service import user_has_2fa
from onboarding.web.client import client_ip
from onboarding.web.converters import bounded_id

TWO_FACTOR_REQUIRED = "Organization requires two-factor authentication to be enabled"


def org_access_error(org: Organization, member: OrganizationMember | None, user: Any) -> Any:
    """401 for a member who may not use ``org`` yet, as the pages' ``twofactor.flow.org_gate`` decides:
    two-factor missing where it is required (spec §3), or a required SSO sign-in not done in this browser
    session. Superusers who are not members are exempt, as on the pages; API tokens skip the SSO rule
    (as in Sentry: a token is not a browser session)."""
    if member is None:
        return None
    if org.has_flag(OrgFlags.REQUIRE_2FA) and not user_has_2fa(user.id):
        return error(401, TWO_FACTOR_REQUIRED)
    if g.get("api_token") is None:
        from onboarding.sso.flow import sso_requirement

        reason = sso_requirement(org, user)
        if reason is not None:
            login = url_for("sso.start_page", org_slug=org.slug)
            return error(401, f"{reason} Sign in at {login}")
    return None


def org_api(permission: str = "org:read") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Load ``g.org`` and the caller's role; 404 for non-members (slugs are not probed), 401 for members
    who must first enable two-factor or sign in through SSO (:func:`org_access_error`), 403 for low roles."""

    def decorator(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        @api_login_required
        def wrapper(org_slug: str, **kwargs: Any) -> Any:
            user = api_user()
            org = orgs.get_org_by_slug(org_slug)
            if org is None:
                return error(404, "The requested resource does not exist")
            member = orgs.get_membership(org, user)
            role = roles.TOP_ROLE if user.is_superuser else (member.role if member else None)
            if role is None:
                return error(404, "The requested resource does not exist")
            denied = org_access_error(org, member, user)
            if denied is not None:
                return denied
            if not roles.has_permission(role, permission):
                return error(403, "You do not have permission to perform this action.")
            g.org, g.api_role, g.api_actor = org, role, user
            return view(org_slug=org_slug, **kwargs)

        return wrapper

    return decorator


def serialize_member(member: OrganizationMember) -> dict[str, Any]:
    now = utcnow()
    return {
        "id": str(member.id),
        "email": member.get_email(),
        "name": member.user.name if member.user else member.email,
        "role": member.role,
        "pending": member.is_pending,
        "expired": bool(member.is_pending and member.invite_approved and member.token_expired(now)),
        "inviteStatus": InviteStatus(member.invite_status).api_name,
        "teams": [t.slug for t in member.teams],
        "user": serialize_user(member.user),
        "dateCreated": iso(member.date_added),
    }


@bp.route("/organizations/<org_slug>/members/", methods=["GET"])
@org_api()
def list_members(org_slug: str) -> Any:
    rows = db.session.scalars(
        select(OrganizationMember)
        .where(OrganizationMember.organization_id == g.org.id)
        .order_by(OrganizationMember.date_added, OrganizationMember.id)
    )
    return jsonify([serialize_member(m) for m in rows])


@bp.route("/organizations/<org_slug>/members/", methods=["POST"])
@org_api("member:invite")
def invite_member(org_slug: str) -> Any:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "Send a JSON object.")
    email = data.get("email")
    role = data.get("role") or g.org.default_role
    team_slugs = data.get("teams") or []
    if not isinstance(email, str) or not email.strip():
        return error(400, {"email": ["This field is required."]})
    if not isinstance(role, str):
        return error(400, {"role": ["Invalid role"]})
    if not isinstance(team_slugs, list) or not all(isinstance(t, str) for t in team_slugs):
        return error(400, {"teams": ["Send a list of team slugs."]})
    teams = list(
        db.session.scalars(select(Team).where(Team.organization_id == g.org.id, Team.slug.in_(team_slugs)))
    )
    if len(teams) != len(set(team_slugs)):
        return error(400, {"teams": ["Invalid teams"]})
    try:
        outcomes = invites.invite_many(g.org, g.api_actor, g.api_role, [email], role, teams, ip=client_ip())
    except invites.InviteError as exc:
        return error(400, {exc.field or "email": [str(exc)]})
    outcome = outcomes[0] if outcomes else None
    if outcome is None or not outcome.ok or outcome.member is None:
        db.session.rollback()
        message = outcome.message if outcome else "Enter a valid email address."
        if outcome and outcome.retry_after:
            return throttled(error(429, {"email": [message]}), outcome.retry_after)
        return error(409 if outcome and outcome.resend_member_id else 400, {"email": [message]})
    db.session.commit()
    return jsonify(serialize_member(outcome.member)), 201


def _member(member_id: str) -> OrganizationMember | None:
    number = bounded_id(member_id)
    if number is None:
        return None
    member = db.session.get(OrganizationMember, number)
    return member if member is not None and member.organization_id == g.org.id else None


@bp.route("/organizations/<org_slug>/members/<member_id>/", methods=["GET"])
@org_api()
def get_member(org_slug: str, member_id: str) -> Any:
    member = _member(member_id)
    if member is None:
        return error(404, "The requested resource does not exist")
    return jsonify(serialize_member(member))


@bp.route("/organizations/<org_slug>/members/<member_id>/", methods=["PUT"])
@org_api("member:invite")
def update_member(org_slug: str, member_id: str) -> Any:
    member = _member(member_id)
    if member is None:
        return error(404, "The requested resource does not exist")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "Send a JSON object.")
    if data.get("reinvite"):
        try:
            invites.resend(member, g.api_actor, g.api_role, ip=client_ip())
        except invites.InviteError as exc:
            return throttled(error(exc.status or 400, str(exc)), exc.retry_after)
        db.session.commit()
        return jsonify(serialize_member(member))
    if "role" not in data and "teams" not in data:
        return error(400, 'Send "role" and/or "teams" (team slugs), or {"reinvite": true}.')
    role = data.get("role")
    if role is not None and not isinstance(role, str):
        return error(400, {"role": ["Invalid role"]})
    try:
        teams = rules.teams_by_slugs(g.org, data["teams"]) if "teams" in data else None
        rules.edit_member(g.org, member, g.api_actor, g.api_role, role=role, teams=teams, ip=client_ip())
    except rules.MemberError as exc:
        return _member_error(exc)
    db.session.commit()
    return jsonify(serialize_member(member))


def _member_error(exc: rules.MemberError) -> Any:
    db.session.rollback()
    if exc.field:
        return error(400, {exc.field: [exc.message]})
    return error(403 if exc.forbidden else 400, exc.message)


@bp.route("/organizations/<org_slug>/members/<member_id>/", methods=["DELETE"])
@org_api()
def delete_member(org_slug: str, member_id: str) -> Any:
    """Revoke an invite, or remove a member (up to your own role; never the last owner; anyone may leave)."""
    member = _member(member_id)
    if member is None:
        return error(404, "The requested resource does not exist")
    actor = g.api_actor
    if member.is_pending:
        if not roles.has_permission(g.api_role, "member:invite"):
            return error(403, "You do not have permission to perform this action.")
        try:
            invites.revoke(member, actor, g.api_role, ip=client_ip())
        except invites.InviteError as exc:
            return error(exc.status or 400, str(exc))
        db.session.commit()
        return "", 204
    try:
        rules.remove_member(g.org, member, actor, g.api_role, ip=client_ip())
    except rules.MemberError as exc:
        return _member_error(exc)
    db.session.commit()
    return "", 204


def _actor(entry: AuditLogEntry) -> dict[str, Any] | None:
    if entry.actor is not None:
        return serialize_user(entry.actor)
    if entry.actor_deleted:
        return {"id": None, "name": entry.actor_name}
    return {"name": entry.actor_label} if entry.actor_label else None


@bp.route("/organizations/<org_slug>/audit-logs/", methods=["GET"])
@org_api("member:invite")
def audit_logs(org_slug: str) -> Any:
    limit = min(max(request.args.get("per_page", 100, type=int) or 100, 1), 500)
    rows = db.session.scalars(
        select(AuditLogEntry)
        .where(AuditLogEntry.organization_id == g.org.id)
        .order_by(AuditLogEntry.datetime.desc(), AuditLogEntry.id.desc())
        .limit(limit)
    )
    return jsonify(
        [
            {
                "id": str(e.id),
                "event": e.event,
                "actor": _actor(e),
                "targetObject": e.target_object,
                "targetUser": serialize_user(e.target_user),
                "ipAddress": e.ip_address,
                "data": e.data,
                "dateCreated": iso(e.datetime),
            }
            for e in rows
        ]
    )
