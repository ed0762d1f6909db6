"""The app shell's links, in one place. To give a page a link, add one ``NavLink`` line to a group below.

An entry whose endpoint is not registered is left out, so a link can be listed before its feature lands
and appears the moment the feature's blueprint is registered. ``permission`` names an organization
permission (``onboarding/orgs/roles.py``); the shell shows the link only to those who have it (superusers
have all). Organization links are built with ``org_slug``; account and superuser links take no arguments.

- ``ORGANIZATION``: the organization's sections (header, and the phone menu).
- ``ORGANIZATION_SETTINGS`` and ``ACCOUNT``: the side navigation of settings pages; the account menu
  lists ``ACCOUNT`` too. A page whose endpoint is in one of them gets that side navigation.
- ``SUPERUSER``: the instance administration links.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from flask import Flask, current_app, request


@dataclass(frozen=True)
class NavLink:
    label: str
    endpoint: str
    permission: str | None = None
    anchor: str = ""
    # Other endpoints for which this link is the current one (e.g. a team page under "Teams").
    also: tuple[str, ...] = ()


ORGANIZATION: tuple[NavLink, ...] = (
    NavLink("Home", "orgs.home"),
    NavLink("Members", "members.members", also=("members.join_request",)),
    NavLink("Teams", "teams.teams", also=("teams.detail",)),
    NavLink("Invite links", "invite_links.links", "member:invite"),
    NavLink("Audit log", "members.audit_log", "member:invite"),
    NavLink("Settings", "orgs.settings", "org:write"),
)

ORGANIZATION_SETTINGS: tuple[NavLink, ...] = (
    NavLink("General", "orgs.settings", "org:write"),
    NavLink("Avatar", "avatars.org_avatar", "org:write", also=("avatars.org_upload_status",)),
    NavLink("Security", "twofactor.org_security", "org:admin"),
    NavLink("Single sign-on", "sso.settings", "org:admin"),
    NavLink("Webhooks", "webhooks.endpoints", "org:admin", also=("webhooks.detail", "webhooks.create")),
    NavLink("Delete organization", "deletion.organization", "org:admin"),
)

ACCOUNT: tuple[NavLink, ...] = (
    NavLink("Profile", "account.settings"),
    NavLink("Avatar", "avatars.user_avatar", also=("avatars.user_upload_status",)),
    NavLink("Security and passkeys", "twofactor.security"),
    NavLink("Sessions", "account.settings", anchor="#sessions"),
    NavLink("API tokens", "tokens.index"),
    NavLink("Invites", "invites.inbox"),
    NavLink("Delete account", "deletion.account"),
)

SUPERUSER: tuple[NavLink, ...] = (
    NavLink("Users", "useradmin.users"),
    NavLink("Status", "ops.status"),
    NavLink("Errors", "ops.errors", also=("ops.error_detail",)),
    NavLink("Instance audit log", "audit.instance_log"),
)

GROUPS = {
    "organization": ORGANIZATION,
    "organization_settings": ORGANIZATION_SETTINGS,
    "account": ACCOUNT,
    "superuser": SUPERUSER,
}


def links(group: str, can: Callable[[str], bool] | None = None) -> list[NavLink]:
    """The group's links whose endpoint exists and whose permission ``can`` grants."""
    views = current_app.view_functions
    return [
        link
        for link in GROUPS[group]
        if link.endpoint in views and (link.permission is None or (can is not None and can(link.permission)))
    ]


def _endpoints(group: Iterable[NavLink]) -> set[str]:
    return {e for link in group for e in (link.endpoint, *link.also)}


def is_current(link: NavLink) -> bool:
    """Whether ``link`` is the page being shown (the first link to an endpoint wins, not its anchors)."""
    if link.anchor:
        return False
    if link is ORGANIZATION[-1]:  # "Settings" stays current on every organization settings page
        return request.endpoint in _endpoints(ORGANIZATION_SETTINGS)
    return request.endpoint == link.endpoint or request.endpoint in link.also


def side_group() -> str | None:
    """``organization_settings`` or ``account`` when the page belongs to that settings group."""
    endpoint = request.endpoint
    for name in ("organization_settings", "account"):
        if endpoint in _endpoints(GROUPS[name]):
            return name
    return None


def init_app(app: Flask) -> None:
    @app.context_processor
    def _nav() -> dict[str, Any]:
        return {"nav_links": links, "nav_is_current": is_current, "nav_side_group": side_group}
