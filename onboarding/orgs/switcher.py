"""The organization switcher in the navigation: shown when the signed-in user belongs to several.

Following one of its links opens that organization, and ``org_required`` remembers it as the active
organization (``session["activeorg"]``), which is where the next sign-in lands.
"""

from __future__ import annotations

from typing import Any

from flask import g, session
from flask_login import current_user

from onboarding.orgs import bp
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization


def switcher_organizations() -> list[Organization]:
    """The user's organizations, or an empty list when there is nothing to switch between."""
    if not current_user.is_authenticated:
        return []
    mine = [m.organization for m in orgs.memberships(current_user)]
    return mine if len(mine) > 1 else []


def active_organization_slug() -> str | None:
    org = g.get("org")
    return org.slug if org is not None else session.get("activeorg")


@bp.app_context_processor
def _switcher_context() -> dict[str, Any]:
    return {
        "switcher_organizations": switcher_organizations,
        "active_organization_slug": active_organization_slug,
    }
