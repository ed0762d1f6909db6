"""The session side of signing in: where to go next, the invite kept across the detour, rotation.

Session keys (spec §2): ``_next`` (where to go after sign-in), ``activeorg`` (slug), and the pending
invite — ``invite_member_id``, ``invite_token``, ``invite_organization_id``, ``invite_email`` and
``can_register`` (one registration through that invite).
"""

from __future__ import annotations

from flask import current_app, request, session, url_for
from flask_login import login_user, logout_user

from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.orgs import service as orgs
from onboarding.web.client import client_ip
from onboarding.web.redirects import safe_path

INVITE_KEYS = ("invite_member_id", "invite_token", "invite_organization_id", "invite_email", "can_register")


def initiate_login(next_url: str | None) -> None:
    for key in ("_next", "_after_2fa", "_pending_2fa", "_referrer"):
        session.pop(key, None)
    path = safe_path(next_url)
    if path:
        session["_next"] = path


def can_register() -> bool:
    return bool(current_app.config["ALLOW_REGISTRATION"] or session.get("can_register"))


def has_pending_invite() -> bool:
    return bool(session.get("invite_member_id") and session.get("invite_token"))


def sign_in(user: User) -> None:
    """Start a fresh session for ``user``: new cookie contents, a new server-side record.

    The pending invite and the return address survive the rotation (the invite detour needs them);
    anything else the anonymous session held is dropped.
    """
    kept = {k: session[k] for k in (*INVITE_KEYS, "_next", "activeorg", "_sso_link") if k in session}
    session.clear()
    session.update(kept)
    accounts.start_session(user, ip_address=client_ip(), user_agent=request.headers.get("User-Agent"))
    login_user(user)
    session.permanent = True


def sign_out(user: User | None) -> None:
    if user is not None and getattr(user, "session_key", None):
        accounts.end_session(user.session_key)  # type: ignore[arg-type]
    logout_user()
    session.clear()


def landing_url(user: User) -> str:
    """Where a signed-in user belongs: the active organization, else the first, else none."""
    mine = orgs.memberships(user)
    active = session.get("activeorg")
    for member in mine:
        if member.organization.slug == active:
            return url_for("orgs.home", org_slug=active)
    if mine:
        slug = mine[0].organization.slug
        session["activeorg"] = slug
        return url_for("orgs.home", org_slug=slug)
    if current_app.config["SINGLE_ORGANIZATION"] and not user.is_superuser:
        return url_for("orgs.no_organization")
    return url_for("orgs.create")


def login_redirect(user: User) -> str:
    """``_next`` when it is a safe path on this site, otherwise the user's landing page."""
    target = safe_path(session.pop("_next", None))
    return target or landing_url(user)
