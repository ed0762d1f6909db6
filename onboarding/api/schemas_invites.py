"""OpenAPI registrations for the invitation endpoints (accept-invite, members, audit logs)."""

from __future__ import annotations

from typing import Any

from onboarding.api.openapi import ERROR, register_operation

NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}
USER: dict[str, Any] = {
    "type": ["object", "null"],
    "properties": {"id": {"type": "string"}, "email": {"type": "string"}, "name": {"type": "string"}},
}
MEMBER: dict[str, Any] = {
    "type": "object",
    "required": [
        "id",
        "email",
        "name",
        "role",
        "pending",
        "expired",
        "inviteStatus",
        "teams",
        "user",
        "dateCreated",
    ],
    "properties": {
        "id": {"type": "string"},
        "email": NULLABLE_STRING,
        "name": NULLABLE_STRING,
        "role": {"type": "string"},
        "pending": {"type": "boolean"},
        "expired": {"type": "boolean"},
        "inviteStatus": {
            "type": "string",
            "enum": ["approved", "requested_to_be_invited", "requested_to_join"],
        },
        "teams": {"type": "array", "items": {"type": "string"}},
        "user": USER,
        "dateCreated": NULLABLE_STRING,
    },
}
FIELD_ERRORS: dict[str, Any] = {"type": "object", "additionalProperties": True}
DETAILS: dict[str, Any] = {
    "type": "object",
    "required": ["details"],
    "properties": {"details": {"type": "string"}},
}
ACCEPT_STATE: dict[str, Any] = {
    "type": "object",
    "required": [
        "orgSlug",
        "needsAuthentication",
        "needsSso",
        "hasAuthProvider",
        "requireSso",
        "existingMember",
    ],
    "properties": {
        "orgSlug": {"type": "string"},
        "needsAuthentication": {"type": "boolean"},
        "needsSso": {"type": "boolean"},
        "hasAuthProvider": {"type": "boolean"},
        "requireSso": {"type": "boolean"},
        "existingMember": {"type": "boolean"},
        "needs2fa": {"type": "boolean"},
        "needsEmailVerification": {"type": "boolean"},
        "invitedEmail": NULLABLE_STRING,
        "emailMatches": {"type": "boolean"},
        "ssoProvider": {"type": "string"},
    },
}
AUDIT_ENTRY: dict[str, Any] = {
    "type": "object",
    "required": ["id", "event", "actor", "targetObject", "targetUser", "ipAddress", "data", "dateCreated"],
    "properties": {
        "id": {"type": "string"},
        "event": {"type": "string"},
        "actor": {"type": ["object", "null"]},
        "targetObject": {"type": ["integer", "null"]},
        "targetUser": USER,
        "ipAddress": NULLABLE_STRING,
        "data": {"type": "object"},
        "dateCreated": NULLABLE_STRING,
    },
}
INVITE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["email"],
    "properties": {
        "email": {"type": "string"},
        "role": {"type": "string"},
        "teams": {"type": "array", "items": {"type": "string"}},
    },
}
MEMBERS = "/api/0/organizations/<org_slug>/members/"
ONE = "/api/0/organizations/<org_slug>/members/<member_id>/"
ACCEPT = "/api/0/accept-invite/<member_id>/<token>/"

register_operation(
    "GET",
    ACCEPT,
    summary="Invite details (spec §1.4)",
    auth=False,
    tags=["invites"],
    responses={200: ACCEPT_STATE, 400: DETAILS, 401: ERROR, 429: DETAILS},  # 429: too many invalid links
)
register_operation(
    "POST",
    ACCEPT,
    summary="Accept an invite as the signed-in user",
    auth=False,
    scopes=["member:write"],  # when a bearer token is the signed-in user
    tags=["invites"],
    responses={204: None, 400: DETAILS, 401: ERROR, 403: ERROR, 429: DETAILS},
)
register_operation(
    "GET",
    MEMBERS,
    summary="List members and invites",
    scopes=["member:read"],
    tags=["members"],
    responses={200: {"type": "array", "items": MEMBER}, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "POST",
    MEMBERS,
    summary="Invite someone",
    scopes=["member:write"],
    tags=["members"],
    request_body=INVITE_BODY,
    responses={
        201: MEMBER,
        400: FIELD_ERRORS,
        401: ERROR,
        403: ERROR,
        404: ERROR,
        409: FIELD_ERRORS,
        429: FIELD_ERRORS,
    },
)
register_operation(
    "GET",
    ONE,
    summary="One member or invite",
    scopes=["member:read"],
    tags=["members"],
    responses={200: MEMBER, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "DELETE",
    ONE,
    summary="Revoke an invite or remove a member",
    scopes=["member:write"],
    tags=["members"],
    responses={204: None, 400: ERROR, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "GET",
    "/api/0/organizations/<org_slug>/audit-logs/",
    summary="Audit log, newest first",
    scopes=["org:read"],
    tags=["audit"],
    query={"per_page": {"type": "integer", "minimum": 1, "maximum": 500}},
    responses={200: {"type": "array", "items": AUDIT_ENTRY}, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "PUT",
    ONE,
    summary='Resend an invite ({"reinvite": true}) or change a member\'s role and teams',
    scopes=["member:write"],
    tags=["members"],
    request_body={
        "type": "object",
        "properties": {
            "reinvite": {"type": "boolean"},
            "role": {"type": "string"},
            "teams": {"type": "array", "items": {"type": "string"}},
        },
    },
    responses={200: MEMBER, 400: FIELD_ERRORS, 401: ERROR, 403: ERROR, 404: ERROR},
)

TEAM: dict[str, Any] = {
    "type": "object",
    "required": ["id", "slug", "name", "memberCount", "dateCreated"],
    "properties": {
        "id": {"type": "string"},
        "slug": {"type": "string"},
        "name": {"type": "string"},
        "memberCount": {"type": "integer"},
        "dateCreated": NULLABLE_STRING,
        "members": {"type": "array", "items": MEMBER},
    },
}
TEAM_BODY: dict[str, Any] = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "slug": {"type": "string"}},
}
TEAMS = "/api/0/organizations/<org_slug>/teams/"
TEAM_ONE = "/api/0/organizations/<org_slug>/teams/<team_slug>/"
register_operation(
    "GET",
    TEAMS,
    summary="List teams",
    scopes=["org:read"],
    tags=["teams"],
    responses={200: {"type": "array", "items": TEAM}, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "POST",
    TEAMS,
    summary="Create a team",
    scopes=["org:write"],
    tags=["teams"],
    request_body=TEAM_BODY,
    responses={201: TEAM, 400: FIELD_ERRORS, 401: ERROR, 403: ERROR, 404: ERROR, 409: FIELD_ERRORS},
)
register_operation(
    "GET",
    TEAM_ONE,
    summary="One team and its members",
    scopes=["org:read"],
    tags=["teams"],
    responses={200: TEAM, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "PUT",
    TEAM_ONE,
    summary="Rename a team",
    scopes=["org:write"],
    tags=["teams"],
    request_body=TEAM_BODY,
    responses={200: TEAM, 400: FIELD_ERRORS, 401: ERROR, 403: ERROR, 404: ERROR, 409: FIELD_ERRORS},
)
register_operation(
    "DELETE",
    TEAM_ONE,
    summary="Delete a team",
    scopes=["org:write"],
    tags=["teams"],
    responses={204: None, 400: FIELD_ERRORS, 401: ERROR, 403: ERROR, 404: ERROR},
)

# Organization details (spec §1.11) and avatars (§1.12): bodies documented loosely, statuses exactly.
OBJECT: dict[str, Any] = {"type": "object"}
ORG = "/api/0/organizations/<slug>/"
register_operation(
    "GET",
    ORG,
    summary="Organization details",
    scopes=["org:read"],
    tags=["organizations"],
    responses={200: OBJECT, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "PUT",
    ORG,
    summary="Change name, slug, options, trusted relays or avatar",
    scopes=["org:write"],
    tags=["organizations"],
    request_body=OBJECT,
    responses={
        200: OBJECT,
        202: OBJECT,
        400: FIELD_ERRORS,
        401: ERROR,
        403: ERROR,
        404: ERROR,
        409: FIELD_ERRORS,
        413: ERROR,
    },
)
USER_AVATAR = "/api/0/users/<user_ref>/avatar/"
register_operation(
    "GET",
    USER_AVATAR,
    summary="A user's avatar (use 'me')",
    tags=["avatars"],
    responses={200: OBJECT, 401: ERROR, 403: ERROR, 404: ERROR},
)
register_operation(
    "PUT",
    USER_AVATAR,
    summary="Change your avatar (letter, gravatar, or an uploaded picture)",
    scopes=["user:write"],
    tags=["avatars"],
    request_body=OBJECT,
    responses={200: OBJECT, 202: OBJECT, 400: FIELD_ERRORS, 401: ERROR, 403: ERROR, 404: ERROR, 413: ERROR},
)

INBOX_ITEM: dict[str, Any] = {
    **MEMBER,
    "required": [*MEMBER["required"], "organization"],
    "properties": {
        **MEMBER["properties"],
        "organization": {
            "type": "object",
            "required": ["slug", "name"],
            "properties": {"slug": {"type": "string"}, "name": {"type": "string"}},
        },
    },
}
register_operation(
    "GET",
    "/api/0/users/me/invites/",
    summary="Your pending invites: every live invite to one of your addresses, in any organization",
    scopes=["member:read"],
    tags=["invites"],
    responses={200: {"type": "array", "items": INBOX_ITEM}, 401: ERROR, 403: ERROR},
)
