"""A real Chromium against a real server: register, land in the organization, sign out, sign in again.

Runs once with JavaScript (the htmx path, including inline email validation) and once without.
Skips when Chromium is missing, unless ONBOARDING_REQUIRE_BROWSER=1 (CI), where it fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import sign_out
from tests.conftest import chromium_path, free_port
from tests.serve_helpers import PASSWORD, Server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the browser fixture
    expect = None  # type: ignore[assignment]

# Note: page.wait_for_function() evaluates a string in the page, which our CSP (no 'unsafe-eval')
# forbids; locator assertions (expect) and page.evaluate() are not affected.

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _missing(reason: str) -> None:
    if os.environ.get("ONBOARDING_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    executable = chromium_path()
    if executable is None:
        _missing("Chromium is not installed (/usr/bin/chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright is not installed")
    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(
        tmp_path_factory.mktemp("browser") / "instance",
        free_port(),
        ONBOARDING_ALLOW_REGISTRATION="true",
        ONBOARDING_ORGANIZATION_NAME="Acme Rockets",
    )
    try:
        srv.wait_for(r"running at")
        yield srv
    finally:
        if srv.stop() != 0:
            srv.kill_all()


def _expect_org_home(page: Any, server: Server) -> None:
    page.wait_for_url(f"{server.url}/organizations/acme-rockets/", timeout=15000)
    assert page.get_by_role("heading", level=1, name="Acme Rockets", exact=True).is_visible()


def _sign_out_and_in(page: Any, server: Server, email: str, *, js: bool) -> None:
    sign_out(page)
    page.wait_for_url(f"{server.url}/auth/login/", timeout=15000)
    assert page.get_by_role("button", name="Sign out").count() == 0

    # A wrong password first: one generic error, tied to the fields, and the email kept.
    page.get_by_label("Email").first.fill(email)
    page.locator("#login-password").fill("not the password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    error = page.locator("#login-error")
    error.wait_for(timeout=15000)
    assert "Please enter a correct email and password." in error.inner_text()
    assert page.locator("#login-username").input_value() == email
    assert page.locator("#login-password").get_attribute("aria-describedby") == "login-error"
    expect(page.locator("#login-password")).to_be_focused(timeout=5000)
    if js:
        assert page.url == f"{server.url}/auth/login/"  # swapped in place, no navigation

    page.locator("#login-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    _expect_org_home(page, server)
    assert email in page.locator("header").inner_text()


def test_register_sign_out_sign_in_with_javascript(browser: Any, server: Server) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    # A 422 answer is logged by the browser as a failed resource; anything else is a real error.
    page.on(
        "console",
        lambda msg: (
            errors.append(msg.text) if msg.type == "error" and "status of 422" not in msg.text else None
        ),
    )

    page.goto(f"{server.url}/auth/register/")
    page.locator("#register-name").fill("Ada Lovelace")
    email = page.locator("#register-username")
    email.click()
    email.type("ada@")  # typed, not pasted
    page.keyboard.press("Tab")  # leaving the field asks the server, which answers into the error slot only
    email_error = page.locator("#register-username-error")
    email_error.get_by_text("Enter a valid email address.").wait_for(timeout=15000)
    assert email.input_value() == "ada@"  # what was typed is untouched
    assert page.evaluate("document.activeElement.id") == "register-password"  # focus stayed where it went

    email.click()
    page.keyboard.press("End")
    email.type("example.com")
    page.keyboard.press("Tab")
    expect(email_error).to_have_text("", timeout=15000)
    assert email.input_value() == "ada@example.com"

    page.locator("#register-password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    _expect_org_home(page, server)

    _sign_out_and_in(page, server, "ada@example.com", js=True)
    assert errors == []
    context.close()


def test_register_sign_out_sign_in_without_javascript(browser: Any, server: Server) -> None:
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server.url}/auth/register/")
    page.locator("#register-name").fill("Grace Hopper")
    page.locator("#register-username").fill("Grace@Example.com")
    page.locator("#register-password").fill("password123")  # passes the browser's checks, not ours
    page.get_by_role("button", name="Create account").click()
    page.wait_for_load_state()
    error = page.locator("#register-password-error")
    assert "This password is too common." in error.inner_text()
    assert page.locator("#register-password").get_attribute("aria-invalid") == "true"
    assert page.locator("#register-username").input_value() == "grace@example.com"
    expect(page.locator("#register-password")).to_be_focused(timeout=5000)

    page.locator("#register-password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    _expect_org_home(page, server)

    _sign_out_and_in(page, server, "grace@example.com", js=False)
    context.close()


@pytest.mark.parametrize(("name", "viewport"), [("desktop", (1280, 900)), ("phone", (390, 844))])
def test_sign_in_page_screenshots_and_keyboard_order(
    browser: Any, server: Server, name: str, viewport: Any, tmp_path: Path
) -> None:
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    page.goto(f"{server.url}/auth/login/")
    # No horizontal scrolling on a phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
    # Every visible input has a label.
    unlabelled = page.evaluate(
        """[...document.querySelectorAll('input:not([type=hidden])')]
             .filter(i => i.offsetParent !== null && !(i.labels && i.labels.length))
             .map(i => i.id || i.name)"""
    )
    assert unlabelled == []
    # The email field is focused first; Tab goes email → password → the sign-in button.
    assert page.evaluate("document.activeElement.id") == "login-username"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "login-password"
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Sign in"
    page.screenshot(path=str(tmp_path / f"onboarding-signin-{name}.png"), full_page=True)
    context.close()
