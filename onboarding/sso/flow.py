"""SSO and the session: the flow in progress, freshness (``sso_s:<org_id>``), the organization gate.

Entry points for other features:

- :func:`accept_invite_after_sso` — runs once an identity is linked to a user for an organization;
  the invitations feature extends it to accept the invite held in the session or matching the
  verified email (spec §1.6). It returns whether the user is now a member.
- :func:`sso_gate` — called through ``twofactor.flow.org_gate`` from ``orgs.access.org_required``;
  :func:`sso_requirement` — the same rule for the JSON API (``api.members.org_access_error``).
"""

from __future__ import annotations

import time

from flask import current_app, flash, request, session, url_for
from werkzeug.wrappers import Response

from onboarding.accounts.models import User
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember
from onboarding.sso import service as sso
from onboarding.web.htmx import see_other
from onboarding.web.redirects import safe_path

FLOW_KEY = "_sso_flow"
LINK_KEY = "_sso_link"
FLOW_SECONDS = 10 * 60

# Pages an owner must reach while SSO is broken or not yet linked: the SSO settings themselves.
EXEMPT_ENDPOINTS = {"sso.settings", "sso.disable"}


def _fresh_key(org_id: int) -> str:
    return f"sso_s:{org_id}"


def mark_sso_complete(org_id: int) -> None:
    session[_fresh_key(org_id)] = {"ts": int(time.time())}


def is_sso_fresh(org_id: int) -> bool:
    entry = session.get(_fresh_key(org_id))
    if not isinstance(entry, dict) or not isinstance(entry.get("ts"), int):
        return False
    return time.time() - entry["ts"] < current_app.config["SSO_SESSION_SECONDS"]


def accept_invite_after_sso(user: User, org: Organization, verified_email: str) -> bool:
    """Whether ``user`` is a member of ``org`` after their identity was linked.

    A pending invite is accepted first: the one held in the session for this organization (its
    token; the invite's address must be one of the user's), else the live invite addressed to
    ``verified_email``, the address the provider has just verified (spec §1.6, SSO identity linking).
    """
    from onboarding.invites import service as invites
    from onboarding.invites import session as invite_session
    from onboarding.web.client import client_ip

    if orgs.get_membership(org, user) is None:
        result = None
        pending = invite_session.pending()
        if pending is not None and session.get("invite_organization_id") == org.id:
            result = invites.accept(*pending, user, ip=client_ip())
        if result is None or result.status in (
            invites.AcceptStatus.INVALID,
            invites.AcceptStatus.EMAIL_MISMATCH,
        ):
            result = invites.accept_for_verified_email(org, user, verified_email, ip=client_ip())
        if result.ok:
            invite_session.forget()
            flash(f"You have been added to the {org.name} organization.", "success")
    return orgs.get_membership(org, user) is not None


def invite_held_for(org: Organization) -> str | None:
    """The address of the invite to ``org`` held in the session, if any."""
    from onboarding.invites import session as invite_session

    if invite_session.pending() is None or session.get("invite_organization_id") != org.id:
        return None
    email = session.get("invite_email")
    return str(email) if email else None


def sso_requirement(org: Organization, user: User) -> str | None:
    """Why ``user``, a member of ``org``, must first sign in through its provider, or None.

    In an organization whose SSO is required, members need a linked identity and a fresh SSO session.
    """
    provider = orgs.auth_provider_for(org)
    if provider is None or not provider.requires_sso:
        return None
    name = sso.display_name(provider)
    if sso.identity_of(provider, user) is None:
        return f"{org.name} requires single sign-on. Link your {name} account to continue."
    if not is_sso_fresh(org.id):
        return f"Sign in with {name} to continue to {org.name}."
    return None


def sso_gate(org: Organization, member: OrganizationMember | None, user: User) -> Response | None:
    """Pages: send a member who must sign in through the organization's provider to its sign-in page."""
    if member is None or request.endpoint in EXEMPT_ENDPOINTS:
        return None
    reason = sso_requirement(org, user)
    if reason is None:
        return None
    flash(reason, "warning")
    back = safe_path(request.full_path.rstrip("?"))
    return see_other(url_for("sso.start_page", org_slug=org.slug, next=back))
