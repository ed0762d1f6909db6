"""The organization in the app shell: its switcher (several organizations) and its sections.

Following a switcher link opens that organization, and ``org_required`` remembers it as the active
organization (``session["activeorg"]``), which is where the next sign-in lands. Pages outside an
organization (account settings, superuser pages) show the active organization's sections too.
"""

from __future__ import annotations

from typing import Any

from flask import g, session
from flask_login import current_user

from onboarding.orgs import bp, roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember


def _memberships() -> list[OrganizationMember]:
    if "_shell_memberships" not in g:
        g._shell_memberships = orgs.memberships(current_user) if current_user.is_authenticated else []
    return g._shell_memberships  # type: ignore[no-any-return]


def switcher_organizations() -> list[Organization]:
    """The user's organizations, or an empty list when there is nothing to switch between."""
    mine = [m.organization for m in _memberships()]
    return mine if len(mine) > 1 else []


def active_organization_slug() -> str | None:
    org = g.get("org")
    return org.slug if org is not None else session.get("activeorg")


def shell_org() -> Organization | None:
    """The organization the shell shows: the page's, else the active one, else the user's first."""
    if g.get("org") is not None:
        return g.org  # type: ignore[no-any-return]
    mine = _memberships()
    active = session.get("activeorg")
    for member in mine:
        if member.organization.slug == active:
            return member.organization
    if mine:
        return mine[0].organization
    if current_user.is_authenticated and current_user.is_superuser:  # may open any organization
        return (orgs.get_org_by_slug(active) if active else None) or orgs.default_organization()
    return None


def shell_can(permission: str) -> bool:
    """Whether the signed-in user holds ``permission`` in the shell's organization."""
    if not current_user.is_authenticated:
        return False
    if current_user.is_superuser:
        return True
    org = shell_org()
    if org is None:
        return False
    member = g.get("member") if g.get("org") is org else None
    if member is None:
        member = next((m for m in _memberships() if m.organization_id == org.id), None)
    return member is not None and roles.has_permission(member.role, permission)


@bp.app_context_processor
def _switcher_context() -> dict[str, Any]:
    return {
        "switcher_organizations": switcher_organizations,
        "active_organization_slug": active_organization_slug,
        "shell_org": shell_org,
        "shell_can": shell_can,
    }
