"""Loading the organization named in a URL and checking the visitor's role in it."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort, g, session
from flask_login import current_user, login_required

from onboarding.orgs import roles
from onboarding.orgs import service as orgs

F = TypeVar("F", bound=Callable[..., Any])


def org_required(permission: str = "org:read") -> Callable[[F], F]:
    """Sets ``g.org`` and ``g.member`` (None for a superuser who is not a member); 404 or 403 otherwise.

    Non-members get 404, not 403, so that organization slugs cannot be probed.
    """

    def decorator(view: F) -> F:
        @functools.wraps(view)
        @login_required
        def wrapper(*args: Any, org_slug: str, **kwargs: Any) -> Any:
            org = orgs.get_org_by_slug(org_slug)
            if org is None:
                abort(404)
            member = orgs.get_membership(org, current_user)
            if member is None and not current_user.is_superuser:
                abort(404)
            if (
                member is not None
                and not roles.has_permission(member.role, permission)
                and not current_user.is_superuser
            ):
                abort(403, "Your role in this organization does not allow this.")
            g.org, g.member = org, member
            from onboarding.twofactor.flow import org_gate

            detour = org_gate(org, member, current_user)
            if detour is not None:
                return detour
            session["activeorg"] = org.slug
            return view(*args, org_slug=org_slug, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorator


def effective_role() -> str:
    """The visitor's role in ``g.org`` (superusers act as owners)."""
    if current_user.is_superuser:
        return roles.TOP_ROLE
    return g.member.role if g.get("member") is not None else ""
