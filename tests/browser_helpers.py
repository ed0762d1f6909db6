"""Fixtures for end-to-end tests in a real Chromium against the live test app (the approach of
``tests/test_sso_browser.py``): import them with ``from tests.browser_helpers import …_fixture``."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.conftest import chromium_path, free_port


@pytest.fixture(name="chromium")
def chromium_fixture() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("ONBOARDING_REQUIRE_BROWSER") == "1":
            pytest.fail(
                "Chromium is required (ONBOARDING_REQUIRE_BROWSER=1) but /usr/bin/chromium is missing"
            )
        pytest.skip("Chromium is not installed")
    return path


@pytest.fixture(name="live")
def live_fixture(app: Any) -> Iterator[str]:
    """The test app served over HTTP on loopback; its BASE_URL is that address."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app.config["BASE_URL"] = base
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture(name="page")
def page_fixture(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context()
            context.set_default_timeout(15000)
            yield context.new_page()
        finally:
            browser.close()


def sign_out(page: Any) -> None:
    """Press "Sign out" in the app shell: in the account menu (wide windows) or the phone menu."""
    for menu in ("#account-menu", "#phone-menu"):
        summary = page.locator(f"{menu} > summary")
        if summary.count() and summary.is_visible():
            if page.locator(menu).get_attribute("open") is None:
                summary.click()
            page.locator(menu).get_by_role("button", name="Sign out").click()
            return
    raise AssertionError("no visible menu with a Sign out button")


def open_account_menu(page: Any) -> None:
    """Open the account menu (wide windows), where ``#nav-account`` links to the account settings."""
    if page.locator("#account-menu").get_attribute("open") is None:
        page.locator("#account-menu > summary").click()
