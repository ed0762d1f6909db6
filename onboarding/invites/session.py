"""The pending invite kept in the session across the register / sign-in detour."""

from __future__ import annotations

from flask import session

from onboarding.orgs.models import OrganizationMember


def remember(member: OrganizationMember, raw_token: str, *, allow_register: bool) -> None:
    session["invite_member_id"] = member.id
    session["invite_token"] = raw_token
    session["invite_organization_id"] = member.organization_id
    session["invite_email"] = member.email
    if allow_register:
        session["can_register"] = True  # one registration, through this invite


def pending() -> tuple[int, str] | None:
    member_id, token = session.get("invite_member_id"), session.get("invite_token")
    if member_id and token:
        return int(member_id), str(token)
    return None


def forget() -> None:
    for key in ("invite_member_id", "invite_token", "invite_organization_id", "invite_email", "can_register"):
        session.pop(key, None)
