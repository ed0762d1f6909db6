"""Deleting an organization, then one's account, in a real Chromium: with htmx, and with JavaScript off.

Screenshots of the pages (1280 and 390 px) go to ``build/screenshots/`` (not committed).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from onboarding.accounts.models import User
from onboarding.orgs.models import Organization
from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.deletion_helpers import count
from tests.factories import PASSWORD, make_member, make_org, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


@pytest.fixture
def settings() -> dict[str, Any]:
    return {"SINGLE_ORGANIZATION": False}


def seed() -> None:
    owner, member = (
        make_user("owner@example.com", name="Olive Owner"),
        make_user("mia@example.com", name="Mia"),
    )
    org = make_org("Rocket Labs", slug="rocket-labs")
    make_member(org, owner, "owner")
    make_member(org, member, "member")


def sign_in(page: Any, live: str, email: str) -> None:
    page.goto(f"{live}/auth/login/")
    page.fill("#login-username", email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/organizations/"))


def shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, size in (("1280", DESKTOP), ("390", PHONE)):
        page.set_viewport_size(size)
        page.screenshot(path=str(SHOTS / f"{name}-{label}.png"), full_page=True)
        assert int(page.evaluate("() => document.documentElement.scrollWidth")) <= size["width"]
    page.set_viewport_size(DESKTOP)


def test_with_htmx(app: Any, live: str, page: Any) -> None:
    seed()
    page.set_viewport_size(DESKTOP)
    sign_in(page, live, "owner@example.com")
    page.goto(f"{live}/account/settings/delete/")
    assert page.locator("#sole-owner").is_visible() and "Rocket Labs" in page.inner_text("#sole-owner")
    assert page.locator("#account-delete-form").count() == 0
    shoot(page, "delete-account-sole-owner")
    page.goto(f"{live}/organizations/rocket-labs/settings/")
    page.get_by_role("link", name="Delete organization").first.click()
    page.wait_for_url(re.compile(r"/settings/delete/$"))
    shoot(page, "delete-org")
    page.fill("#org-delete-confirm", "rocket")
    page.click("#org-delete-form button[type=submit]")
    page.wait_for_selector("text=That is not this organization's slug.")
    assert page.url.endswith("/organizations/rocket-labs/settings/delete/")  # swapped in place
    shoot(page, "delete-org-wrong-slug")
    page.fill("#org-delete-confirm", "rocket-labs")
    page.click("#org-delete-form button[type=submit]")
    page.wait_for_url(re.compile(r"/organizations/new/$"))
    assert "The Rocket Labs organization has been deleted." in page.inner_text("#flash")
    shoot(page, "delete-org-done")
    page.goto(f"{live}/account/settings/delete/")
    shoot(page, "delete-account")
    page.fill("#account-delete-password", "not my password")
    page.click("#account-delete-form button[type=submit]")
    page.wait_for_selector("text=The password is incorrect.")
    shoot(page, "delete-account-wrong-password")
    page.fill("#account-delete-password", PASSWORD)
    page.click("#account-delete-form button[type=submit]")
    page.wait_for_url(re.compile(r"/auth/login/$"))
    assert "Your account has been deleted." in page.inner_text("#flash")
    shoot(page, "delete-account-done")
    assert count(User, User.email == "owner@example.com") == 0 and count(Organization) == 0


def test_without_javascript(app: Any, live: str, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    seed()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            page.set_default_timeout(15000)
            sign_in(page, live, "owner@example.com")
            page.goto(f"{live}/organizations/rocket-labs/settings/delete/")
            page.fill("#org-delete-confirm", "nope")
            page.click("#org-delete-form button[type=submit]")
            assert "That is not this organization's slug." in page.inner_text("#org-delete")
            page.fill("#org-delete-confirm", "rocket-labs")
            page.click("#org-delete-form button[type=submit]")
            page.wait_for_url(re.compile(r"/organizations/new/$"))
            page.goto(f"{live}/account/settings/delete/")
            page.fill("#account-delete-password", "wrong")
            page.click("#account-delete-form button[type=submit]")
            assert "The password is incorrect." in page.inner_text("#account-delete")
            shoot(page, "delete-account-nojs-wrong-password")
            page.fill("#account-delete-password", PASSWORD)
            page.click("#account-delete-form button[type=submit]")
            page.wait_for_url(re.compile(r"/auth/login/$"))
            assert "Your account has been deleted." in page.inner_text("#flash")
        finally:
            browser.close()
    assert count(User, User.email == "owner@example.com") == 0


def test_superusers_see_deletions_in_the_instance_log(app: Any, live: str, page: Any) -> None:
    from onboarding.database import write_intent
    from onboarding.deletion import service as deletion
    from onboarding.extensions import db

    seed()
    root = make_user("root@example.com", name="Sam Super", superuser=True)
    with write_intent(True):
        org = db.session.query(Organization).filter_by(slug="rocket-labs").one()
        deletion.delete_organization(org, root, ip="127.0.0.1")
        db.session.commit()
    page.set_viewport_size(DESKTOP)
    sign_in(page, live, "root@example.com")
    page.goto(f"{live}/manage/audit-log/")
    assert "org.remove" in page.inner_text("main") and "Rocket Labs (rocket-labs)" in page.inner_text("main")
    shoot(page, "instance-audit-log")


def test_a_passkey_confirms_deleting_the_account(app: Any, chromium: str) -> None:
    """Chromium's virtual authenticator answers the prompt (see tests/test_passkeys_browser.py)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.conftest import free_port
    from tests.test_passkeys_browser import Device, _serve

    make_user("ada@example.com")
    port = free_port()
    base = f"http://localhost:{port}"  # a secure context with a domain: WebAuthn works
    app.config["BASE_URL"] = base
    for _ in _serve(app, port):
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
            try:
                device = Device(browser)
                page = device.page
                device.sign_in_with_password(base, "ada@example.com")
                page.wait_for_url(re.compile(r"/organizations/"))
                device.add_passkey(base, "Laptop")
                expect(page.locator("#passkeys")).to_contain_text("Laptop")  # the page reloaded with it
                page.goto(f"{base}/account/settings/delete/")
                page.locator("#account-delete-passkey-button").click()
                expect(page.locator("#passkey-confirmed")).to_be_visible()
                assert page.locator("#account-delete-password").count() == 0
                shoot(page, "delete-account-passkey-confirmed")
                page.locator("#account-delete-form button[type=submit]").click()
                page.wait_for_url(f"{base}/auth/login/")
                assert device.errors == []
            finally:
                browser.close()
    assert count(User, User.email == "ada@example.com") == 0
