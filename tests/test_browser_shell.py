"""The app shell in a real Chromium: every page reachable by links, nothing wider than a phone.

For an owner, a member and a superuser: sign in, follow every same-site link from the organization home
(breadth first), and on each page check at 390 px that the document is no wider than the viewport. The
main pages are also photographed at 1280 and 390 px into ``build/screenshots/`` (not committed), for
people to look at.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path
from typing import Any
from urllib.parse import urldefrag, urlsplit

import pytest

from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.factories import PASSWORD, default_org, make_invite, make_member, make_team, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
# Paths never followed: signing out happens by POST, files and the API are not pages.
SKIP = re.compile(r"^/(static|api|avatar|organization-avatar|metrics|healthz|readyz)/")


def seed() -> dict[str, Any]:
    """An organization with an owner, a manager, a plain member, a team, a pending invite, a superuser."""
    org = default_org()
    owner = make_user("owner@example.com", name="Olive Owner")
    make_member(org, owner, "owner")
    manager = make_user("manager@example.com", name="Manny Manager")
    make_member(org, manager, "manager")
    member = make_user("member@example.com", name="Mia Member")
    make_member(org, member, "member")
    make_user("root@example.com", name="Sam Super", superuser=True)
    make_team(org, "Rocket Science")
    make_invite(org, "newcomer@example.com", inviter=owner)
    return {"org": org}


def sign_in(page: Any, live: str, email: str) -> None:
    page.goto(f"{live}/auth/login/")
    page.fill("#login-username", email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/organizations/"))


def page_width(page: Any) -> int:
    return int(page.evaluate("() => document.documentElement.scrollWidth"))


def crawl(page: Any, live: str, start: str, too_wide: list[str]) -> dict[str, int]:
    """Every page reachable by links from ``start`` (path → status); pages wider than a phone are
    added to ``too_wide``."""
    seen: dict[str, int] = {}
    queue = deque([start])
    while queue:
        path = queue.popleft()
        if path in seen:
            continue
        resp = page.goto(live + path)
        seen[path] = resp.status if resp else 0
        if "text/html" not in (resp.headers.get("content-type", "") if resp else ""):
            continue
        width = page_width(page)
        if width > PHONE["width"]:
            too_wide.append(f"{path} is {width} px wide")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url, _fragment = urldefrag(href)
            parts = urlsplit(url)
            if f"{parts.scheme}://{parts.netloc}" != live:
                continue
            target = parts.path + (f"?{parts.query}" if parts.query else "")
            if not SKIP.match(parts.path) and target not in seen:
                queue.append(target)
    return seen


def shoot(page: Any, live: str, name: str, path: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(live + path)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
    page.set_viewport_size(PHONE)


def test_every_page_is_linked_and_fits_a_phone(app: Any, live: str, page: Any) -> None:
    data = seed()
    slug = data["org"].slug
    org = f"/organizations/{slug}"
    page.set_viewport_size(PHONE)

    expected = {
        "owner@example.com": [
            f"{org}/",
            f"{org}/members/",
            f"{org}/teams/",
            f"{org}/teams/rocket-science/",
            f"{org}/audit-log/",
            f"{org}/settings/",
            f"{org}/settings/avatar/",
            f"{org}/settings/security/",
            f"{org}/settings/sso/",
            "/account/settings/",
            "/account/settings/avatar/",
            "/account/settings/security/",
            "/account/settings/tokens/",
        ],
        "member@example.com": [f"{org}/", f"{org}/members/", f"{org}/teams/", "/account/settings/"],
        "root@example.com": [f"{org}/", "/manage/users/", "/manage/status/", "/manage/errors/"],
    }
    main_pages = {
        "owner@example.com": {
            "org-home": f"{org}/",
            "members": f"{org}/members/",
            "teams": f"{org}/teams/",
            "team": f"{org}/teams/rocket-science/",
            "audit-log": f"{org}/audit-log/",
            "org-settings": f"{org}/settings/",
            "account": "/account/settings/",
            "security": "/account/settings/security/",
            "tokens": "/account/settings/tokens/",
        },
        "member@example.com": {"member-home": f"{org}/", "member-members": f"{org}/members/"},
        "root@example.com": {"manage-users": "/manage/users/", "manage-status": "/manage/status/"},
    }
    too_wide: list[str] = []
    for email, pages in expected.items():
        page.context.clear_cookies()
        page.set_viewport_size(PHONE)
        sign_in(page, live, email)
        seen = crawl(page, live, f"{org}/" if email != "root@example.com" else "/manage/users/", too_wide)
        missing = [p for p in pages if p not in seen]
        assert not missing, f"{email} cannot reach {missing} by links"
        assert all(status < 400 for p, status in seen.items()), {p: s for p, s in seen.items() if s >= 400}
        for name, path in main_pages[email].items():
            shoot(page, live, name, path)
        page.goto(f"{live}{org}/members/")
        page.click("#phone-menu summary")  # a <details>: opens without JavaScript too
        page.screenshot(path=str(SHOTS / f"menu-{email.split('@')[0]}-390.png"), full_page=True)
        page.set_viewport_size(DESKTOP)
        page.click("#account-menu summary")
        page.screenshot(path=str(SHOTS / f"account-menu-{email.split('@')[0]}-1280.png"))
    page.context.clear_cookies()
    for name, path in {"sign-in": "/auth/login/", "register": "/auth/register/"}.items():
        shoot(page, live, name, path)
    assert not too_wide, too_wide


def test_destructive_actions_are_confirmed_with_and_without_javascript(
    app: Any, live: str, page: Any
) -> None:
    data = seed()
    org = f"/organizations/{data['org'].slug}"
    browser = page.context.browser

    plain = browser.new_context(java_script_enabled=False).new_page()
    sign_in(plain, live, "owner@example.com")
    plain.goto(f"{live}{org}/members/")
    row = plain.locator("tr", has_text="newcomer@example.com")
    row.get_by_role("button", name="Revoke").click()
    plain.wait_for_url(re.compile(r"/confirm/\?c="))
    assert plain.locator("h1").inner_text() == "Revoke the invite for newcomer@example.com?"
    plain.set_viewport_size(PHONE)
    SHOTS.mkdir(parents=True, exist_ok=True)
    plain.screenshot(path=str(SHOTS / "confirm-390.png"), full_page=True)
    plain.locator("#confirm-form").get_by_role("button", name="Revoke").click()
    plain.wait_for_url(f"{live}{org}/members/")
    assert "Revoked the invite for newcomer@example.com." in plain.locator("#flash").inner_text()
    assert plain.locator("tr", has_text="newcomer@example.com").count() == 0
    plain.context.close()

    # With JavaScript the browser's own dialog asks, and the row goes in place.
    sign_in(page, live, "owner@example.com")
    page.goto(f"{live}{org}/members/")
    questions: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept()

    page.on("dialog", answer)
    page.locator("tr", has_text="member@example.com").get_by_role("button", name="Remove").click()
    page.locator("tr", has_text="member@example.com").wait_for(state="detached")
    assert questions == ["Remove member@example.com from the Default organization?"]
    assert page.url == f"{live}{org}/members/"
