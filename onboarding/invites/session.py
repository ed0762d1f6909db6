"""The session detour: the pending invite kept in the session while its invitee registers, signs in,
passes two-factor or SSO, or signs out to switch account.

This module is the only one that knows the session keys; other features ask it questions
(:func:`has_pending`, :func:`invited_email`, :func:`allows_registration`, :func:`held_for`) and
:func:`onboarding.invites.resume.resume_invite` finishes the invite.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flask import session

if TYPE_CHECKING:  # this module stays a leaf: any feature may import it
    from onboarding.orgs.models import OrganizationMember

_MEMBER = "invite_member_id"
_TOKEN = "invite_token"
_ORG = "invite_organization_id"
_EMAIL = "invite_email"
_REGISTER = "can_register"  # one registration, through this invite (even when registration is closed)
KEYS = (_MEMBER, _TOKEN, _ORG, _EMAIL, _REGISTER)


def remember(member: OrganizationMember, raw_token: str, *, allow_register: bool) -> None:
    session[_MEMBER] = member.id
    session[_TOKEN] = raw_token
    session[_ORG] = member.organization_id
    session[_EMAIL] = member.email
    if allow_register:
        session[_REGISTER] = True


def pending() -> tuple[int, str] | None:
    """The kept invite's (member id, raw token), or None."""
    member_id, token = session.get(_MEMBER), session.get(_TOKEN)
    if member_id and token:
        return int(member_id), str(token)
    return None


def has_pending() -> bool:
    return pending() is not None


def invited_email() -> str | None:
    """The address of the kept invite (the register form fixes its email to it), or None."""
    email = session.get(_EMAIL) if has_pending() else None
    return str(email) if email else None


def held_for(org_id: int) -> str | None:
    """The address of the invite to organization ``org_id`` kept in the session, if any."""
    if not has_pending() or session.get(_ORG) != org_id:
        return None
    return invited_email()


def allows_registration() -> bool:
    """Whether the kept invite still grants its one registration."""
    return bool(session.get(_REGISTER))


def registration_used() -> None:
    """An invite grants one registration (and its address is no longer needed for the form)."""
    session.pop(_REGISTER, None)
    session.pop(_EMAIL, None)


def forget() -> None:
    for key in KEYS:
        session.pop(key, None)


def carried() -> dict[str, Any]:
    """What a session rotation (sign-in) must carry over: the kept invite."""
    return {key: session[key] for key in KEYS if key in session}


def kept_through_sign_out(next_path: str | None) -> dict[str, Any]:
    """Before "Sign out and continue": the kept invite, when ``next_path`` is its landing page, with
    its registration granted to whoever continues (contract: the register tab works through it)."""
    found = pending()
    if found is None or not next_path:
        return {}
    if next_path.rstrip("/") != f"/accept/{found[0]}/{found[1]}":
        return {}
    return {**carried(), _REGISTER: True}


def restore(kept: dict[str, Any]) -> None:
    session.update({key: value for key, value in kept.items() if key in KEYS})
