"""The webhook pages in a real Chromium, at 1280 and 390 px, with and without JavaScript: add an endpoint
(the secret shown once), send a test event to a real receiver, read the delivery log, delete with the
confirmation. Screenshots go to ``build/screenshots/`` (not committed) for people to look at."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.factories import PASSWORD
from tests.webhook_helpers import Answer, Receiver, owner_and_org

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


def _sign_in(page, live: str, email: str) -> None:
    page.goto(f"{live}/auth/login/")
    page.fill("#login-username", email)
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(re.compile(r"/organizations/"))


def _fits(page) -> None:
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390  # wide tables scroll in a box


@pytest.mark.parametrize("width", [1280, 390])
def test_add_test_and_read_the_log(app, live, page, width):
    SHOTS.mkdir(parents=True, exist_ok=True)
    _org, owner = owner_and_org()
    page.set_viewport_size({"width": width, "height": 900})
    with Receiver(Answer(500, b'{"error":"database unavailable, try later"}')) as receiver:
        _sign_in(page, live, owner.email)
        page.goto(f"{live}/organizations/acme/settings/")
        page.get_by_role("link", name="Webhooks").first.click()
        page.wait_for_url(re.compile(r"/settings/webhooks/$"))
        page.fill("#webhook-url", receiver.url)
        page.check("input[value='member.joined']")
        page.check("input[value='invite.accepted']")
        page.click("#webhook-form button[type=submit]")
        secret = page.locator("#webhook-secret")
        secret.wait_for()
        assert secret.input_value().startswith("whsec_")
        assert receiver.url in page.locator("#webhook-list").inner_text()
        page.screenshot(path=str(SHOTS / f"webhooks-list-{width}.png"), full_page=True)
        if width == 390:
            _fits(page)
        page.get_by_role("link", name="Open the endpoint to send a test event").click()
        page.click("#webhook-test-form button")
        page.wait_for_selector("#delivery-log")
        log = page.locator("#delivery-log").inner_text()
        assert "webhook.test" in log and "500" in log and "database unavailable" in log
        page.screenshot(path=str(SHOTS / f"webhooks-detail-{width}.png"), full_page=True)
        if width == 390:
            _fits(page)
        page.get_by_role("button", name="Redeliver").click()
        page.wait_for_function("() => document.querySelector('#delivery-log .attempts').textContent === '2'")
        assert "delivered" in page.locator("#delivery-log").inner_text()
        assert len(receiver.received) == 2


def test_delete_without_javascript_asks_first(app, live, chromium):
    from playwright.sync_api import sync_playwright

    org, owner = owner_and_org()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            _sign_in(page, live, owner.email)
            page.goto(f"{live}/organizations/acme/settings/webhooks/")
            page.fill("#webhook-url", "http://127.0.0.1:9/in")
            page.check("input[value='member.removed']")
            page.click("#webhook-form button[type=submit]")
            assert page.locator("#webhook-secret").input_value().startswith("whsec_")
            page.goto(f"{live}/organizations/acme/settings/webhooks/")
            assert "webhook-secret" not in page.content()
            page.locator("#webhook-list").get_by_role("button", name="Delete").click()
            assert "Delete the endpoint http://127.0.0.1:9/in?" in page.content()
            page.screenshot(path=str(SHOTS / "webhooks-delete-confirm-nojs.png"), full_page=True)
            page.get_by_role("button", name="Delete").last.click()
            page.wait_for_url(re.compile(r"/settings/webhooks/$"))
            assert "No endpoints yet." in page.content()
        finally:
            browser.close()
