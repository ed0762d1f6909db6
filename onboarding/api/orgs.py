"""``GET/PUT /api/0/organizations/<slug>/``: organization details, options, trusted relays, avatar."""

from __future__ import annotations

from typing import Any

from flask import request
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from onboarding.api import bp, error, iso
from onboarding.api.auth import api_login_required, api_user
from onboarding.api.members import org_access_error
from onboarding.audit import service as audit
from onboarding.avatars import service as avatars
from onboarding.extensions import db
from onboarding.orgs import relays, roles
from onboarding.orgs import service as orgs
from onboarding.orgs import settings as org_settings
from onboarding.orgs.models import Organization, OrgStatus
from onboarding.web.client import client_ip

CONFLICT = {"slug": ["An organization with this slug already exists."]}


def load_org(slug: str, permission: str) -> tuple[Organization | None, Any, tuple[Response, int] | None]:
    """(org, membership, None) or (None, None, error response). Non-members get 404."""
    user = api_user()
    org = orgs.get_org_by_slug(slug)
    member = orgs.get_membership(org, user) if org is not None else None
    if org is None or (member is None and not user.is_superuser):
        return None, None, error(404, "The requested resource does not exist")
    denied = org_access_error(org, member, user)
    if denied is not None:
        return None, None, denied
    if member is not None and not user.is_superuser and not roles.has_permission(member.role, permission):
        return None, None, error(403, "You do not have permission to perform this action.")
    return org, member, None


def serialize_org(org: Organization, member: Any = None) -> dict[str, Any]:
    values = org_settings.current_values(org)
    return {
        "id": str(org.id),
        "slug": org.slug,
        "name": org.name,
        "dateCreated": iso(org.date_added),
        "status": {"id": OrgStatus(org.status).name.lower(), "name": OrgStatus(org.status).name.lower()},
        "role": member.role if member is not None else None,
        "defaultRole": org.default_role,
        "openMembership": values["openMembership"],
        "allowMemberInvite": values["allowMemberInvite"],
        "allowJoinRequests": values["allowJoinRequests"],
        "require2FA": values["require2FA"],
        "trustedRelays": [relays.external(r) for r in relays.get_relays(org.id)],
        "avatar": avatars.serialize("organization", org.id),
    }


@bp.route("/organizations/<slug>/", methods=["GET", "PUT"])
@api_login_required
def organization_details(slug: str) -> Any:
    permission = "org:read" if request.method == "GET" else "org:write"
    org, member, failure = load_org(slug, permission)
    if failure is not None:
        return failure
    assert org is not None
    if request.method == "GET":
        return serialize_org(org, member)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "The request body must be a JSON object.")
    user = api_user()
    can_admin = user.is_superuser or (member is not None and roles.has_permission(member.role, "org:admin"))
    try:
        changes = org_settings.validate(org, data, actor=user, can_admin=can_admin)
    except org_settings.SlugConflict:
        return error(409, CONFLICT)
    if changes.avatar_status == 413:
        return error(413, "Image too large")
    if changes.errors:
        return error(400, changes.errors)
    changed, upload = org_settings.apply(org, changes, actor=user, ip=client_ip())
    if changed:
        audit.record(
            "org.edit",
            organization_id=org.id,
            actor=user,
            target_object=org.id,
            ip_address=client_ip(),
            data=changed,
        )
    try:
        db.session.commit()
    except IntegrityError:  # another organization took the slug meanwhile
        db.session.rollback()
        return error(409, CONFLICT)
    body = serialize_org(org, member)
    if upload is not None:
        body["avatarUpload"] = {"id": str(upload.id), "status": upload.status}
        db.session.refresh(upload)
        body["avatarUpload"]["status"] = upload.status
        return body, 202
    return body
