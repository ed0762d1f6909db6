"""SSO and the session: the flow in progress, freshness (``sso_s:<org_id>``), the organization gate.

Entry points for other features:

- :func:`accept_invite_after_sso` — runs once an identity is linked to a user for an organization;
  it resumes the invite held in the session or sent to the verified email (spec §1.6) and returns
  whether the user is now a member.
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

    A pending invite is resumed first (:func:`onboarding.invites.resume.resume_invite`): the one held
    in the session for this organization, else the live invite addressed to ``verified_email``, the
    address the provider has just verified (spec §1.6, SSO identity linking).
    """
    from onboarding.invites.resume import resume_invite
    from onboarding.web.client import client_ip

    if orgs.get_membership(org, user) is None:
        resume_invite(user, ip=client_ip(), organization=org, verified_email=verified_email)
    return orgs.get_membership(org, user) is not None


def invite_held_for(org: Organization) -> str | None:
    """The address of the invite to ``org`` held in the session, if any."""
    from onboarding.invites import session as invite_session

    return invite_session.held_for(org.id)


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
