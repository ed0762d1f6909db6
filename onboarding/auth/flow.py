"""The session side of signing in: where to go next, the invite kept across the detour, rotation.

Session keys (spec §2): ``_next`` (where to go after sign-in) and ``activeorg`` (slug). The pending
invite kept across the detour is :mod:`onboarding.invites.session`'s business.
"""

from __future__ import annotations

from flask import current_app, request, session, url_for
from flask_login import login_user, logout_user

from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.invitelinks import session as link_session
from onboarding.invites import session as invite_session
from onboarding.orgs import service as orgs
from onboarding.web.client import client_ip
from onboarding.web.redirects import safe_path


def initiate_login(next_url: str | None, *, keep_second_step: bool = False) -> None:
    """A fresh start of sign-in: forget where the last one was going; ``keep_second_step`` keeps a
    half-finished two-factor sign-in (the sign-in page merely viewed)."""
    for key in ("_next", "_after_2fa", "_referrer", *(() if keep_second_step else ("_pending_2fa",))):
        session.pop(key, None)
    path = safe_path(next_url)
    if path:
        session["_next"] = path


def can_register() -> bool:
    return bool(
        current_app.config["ALLOW_REGISTRATION"]
        or invite_session.allows_registration()
        or link_session.allows_registration()  # a live shareable invite link kept in the session
    )


def sign_in(user: User) -> None:
    """Start a fresh session for ``user``: new cookie contents, a new server-side record.

    The pending invite and the return address survive the rotation (the invite detour needs them);
    anything else the anonymous session held is dropped.
    """
    kept = {k: session[k] for k in ("_next", "activeorg", "_sso_link") if k in session}
    kept.update(invite_session.carried())
    kept.update(link_session.carried())
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


def after_sign_in(user: User) -> str:
    """Where a user who has just signed in or registered goes: the pending invite is resumed first
    (joined: its organization; a step missing: the invite page), else ``_next`` or their landing page.
    When a step is missing and the sign-in was on its way somewhere on purpose (``_next``: e.g. linking
    the organization's SSO, which is that very step), it goes there instead of back to the invite page.
    Live invites to their addresses are announced (``#pending-invites-notice``)."""
    from onboarding.invites.resume import Resumed, announce_inbox, resume_invite  # auth → invites, one way

    going = safe_path(session.get("_next"))
    target = login_redirect(user)
    resumed = resume_invite(user, ip=client_ip())
    announce_inbox(user)
    if resumed is None or not resumed.next_url:
        return target
    if resumed.outcome is Resumed.WAITING and going:
        return target
    return resumed.next_url
