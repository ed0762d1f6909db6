"""The token page in a real browser: validation without JavaScript tricks, htmx swap, token shown once."""

from __future__ import annotations

import os
import threading

import pytest
from werkzeug.serving import make_server

from onboarding.extensions import db
from tests.conftest import chromium_path, free_port
from tests.factories import PASSWORD, default_org, make_member, make_user

pytestmark = pytest.mark.browser


@pytest.fixture
def live_url(app):
    port = free_port()
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}"
    server.shutdown()


def test_create_token_in_the_browser(app, live_url):
    chromium = chromium_path()
    if chromium is None:
        if os.environ.get("ONBOARDING_REQUIRE_BROWSER"):
            pytest.fail("Chromium is required for browser tests")
        pytest.skip("no Chromium")
    from playwright.sync_api import sync_playwright

    user = make_user("root@example.com")
    make_member(default_org(), user, "owner")
    db.session.close()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(live_url + "/auth/login/")
        page.fill("#login-username", "root@example.com")
        page.fill("#login-password", PASSWORD)
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/organizations/**")
        page.goto(live_url + "/account/settings/tokens/")
        page.fill("#token-name", "deploy")
        page.click("#token-form button[type=submit]")
        page.wait_for_selector("text=Choose at least one scope.")
        page.fill("#token-name", "deploy")
        page.check("input[value='member:write']")  # one scope is enough
        page.click("#token-form button[type=submit]")
        raw = page.input_value("#new-token", timeout=10000)
        assert raw.startswith("onb_")
        assert page.locator("#token-list tbody tr").count() == 1
        page.reload()
        assert page.locator("#new-token").count() == 0
        assert raw not in page.content()
        browser.close()
