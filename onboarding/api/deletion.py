"""``DELETE /api/0/users/<me|id>/`` (the password again) and ``DELETE /api/0/organizations/<slug>/`` (owners).

The same rules as the pages (:mod:`onboarding.deletion.service`). Deleting an account answers 204; the
sole-owner refusal is 409 with the organizations' slugs. Deleting an organization answers 202 with the
organization, now ``pending_deletion`` (as Sentry does): it is gone for everyone at once, and a job
removes its rows and files.
"""

from __future__ import annotations

from typing import Any

from flask import g, request, session
from flask_login import logout_user

from onboarding.api import bp, error, throttled
from onboarding.api.auth import api_login_required, api_user
from onboarding.api.openapi import ERROR, register_operation
from onboarding.api.orgs import load_org, serialize_org
from onboarding.auth import service as auth
from onboarding.deletion import service as deletion
from onboarding.extensions import db
from onboarding.web.client import client_ip

USER_PATH = "/api/0/users/<user_ref>/"
ORG_PATH = "/api/0/organizations/<slug>/"
WRONG_PASSWORD = "The password is incorrect."
THROTTLED = "You have made too many attempts. Please try again later."


@bp.route("/users/<user_ref>/", methods=["DELETE"])
@api_login_required
def delete_account(user_ref: str) -> Any:
    user = api_user()
    if user_ref not in ("me", str(user.id)):
        return error(403, "You can only delete your own account.")
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "The request body must be a JSON object.")
    password = data.get("password")
    if not isinstance(password, str) or not password:
        return error(400, {"password": ["This field is required."]})
    if not user.has_usable_password():
        return error(400, {"password": [deletion.NO_PASSWORD]})
    email, ip = user.email, client_ip()
    wait = auth.login_retry_after(email, ip)
    if wait:
        return throttled(error(429, THROTTLED), wait)
    if not deletion.password_matches(user, password):
        auth.record_login_failure(email, ip)
        return error(400, {"password": [WRONG_PASSWORD]})
    try:
        deletion.delete_user(user, ip=ip)
    except deletion.SoleOwnerError as exc:
        db.session.rollback()
        return error(409, {"detail": str(exc), "organizations": [o.slug for o in exc.organizations]})
    if g.get("api_token") is None:  # signed in by the browser session: end it here too
        logout_user()
        session.clear()
    db.session.commit()
    return "", 204


@bp.route("/organizations/<slug>/", methods=["DELETE"])
@api_login_required
def delete_organization(slug: str) -> Any:
    org, member, failure = load_org(slug, "org:admin")
    if failure is not None:
        return failure
    assert org is not None
    try:
        deletion.delete_organization(org, api_user(), ip=client_ip())
    except deletion.OrgDeletionError as exc:
        db.session.rollback()
        return error(400, str(exc))
    body = serialize_org(org, member)
    db.session.commit()
    return body, 202


register_operation(
    "DELETE",
    USER_PATH,
    summary="Delete your own account (user_ref: me or your id), confirmed with your password",
    scopes=["user:write"],
    tags=["users"],
    request_body={
        "type": "object",
        "required": ["password"],
        "properties": {"password": {"type": "string"}},
    },
    responses={
        204: None,
        400: {"type": "object", "additionalProperties": True},
        401: ERROR,
        403: ERROR,
        409: {
            "type": "object",
            "required": ["detail", "organizations"],
            "properties": {
                "detail": {"type": "string"},
                "organizations": {"type": "array", "items": {"type": "string"}},
            },
        },
        429: ERROR,
    },
)
register_operation(
    "DELETE",
    ORG_PATH,
    summary="Delete an organization (owners): gone at once, its rows and files removed by a job",
    scopes=["org:admin"],
    tags=["organizations"],
    responses={202: {"type": "object"}, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR},
)
