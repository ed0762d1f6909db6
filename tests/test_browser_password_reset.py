"""End to end: a forgotten password reset through a real SMTP server on loopback, in a real Chromium.

The app runs as ``onboarding serve`` (gunicorn, a job worker, an embedded Redis) in a temporary
instance folder; mail goes over SMTP to an aiosmtpd server started here. A second browser context,
signed in before the reset, must be refused afterwards.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from email import message_from_bytes
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import open_account_menu, sign_out
from tests.conftest import chromium_path, free_port

OLD_PASSWORD = "old horse battery staple"
NEW_PASSWORD = "brand new passphrase 42"
EMAIL = "browser@example.com"


def _require_browser() -> str:
    path = chromium_path()
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        path = None
    if path is None:
        if os.environ.get("ONBOARDING_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium and Playwright are required (ONBOARDING_REQUIRE_BROWSER=1)")
        pytest.skip("no Chromium or Playwright here")
    return path


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(message_from_bytes(envelope.content, policy=default))
        return "250 OK"

    def wait_for(self, to: str, timeout: float = 60) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in self.messages:
                if msg["To"] == to:
                    return msg
            time.sleep(0.2)
        raise AssertionError(f"no email to {to} within {timeout}s")


@pytest.fixture
def smtp() -> Iterator[tuple[_Inbox, int]]:
    from aiosmtpd.controller import Controller

    inbox = _Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture
def server(smtp: tuple[_Inbox, int]) -> Iterator[tuple[str, Path]]:
    _, smtp_port = smtp
    folder = Path(tempfile.mkdtemp(prefix="onb-b7-"))  # short: the embedded Redis socket lives here
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env.update(
        ONBOARDING_INSTANCE_PATH=str(folder / "instance"),
        ONBOARDING_MAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        ONBOARDING_BASE_URL=base,
        ONBOARDING_SECRET_KEY="browser-test-secret",
        ONBOARDING_ARGON2_TIME_COST="1",
        ONBOARDING_ARGON2_MEMORY_COST="8",
    )
    cli = [sys.executable, "-m", "onboarding.cli"]
    made = subprocess.run(
        [*cli, "createuser", "--email", EMAIL, "--password", OLD_PASSWORD, "--no-superuser", "--no-input"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    log = (folder / "serve.log").open("wb")
    proc = subprocess.Popen(
        [*cli, "serve", "--port", str(port), "--workers", "1"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, (folder / "serve.log").read_text()
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
        yield base, folder / "serve.log"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


def _sign_in(page: Any, base: str, password: str) -> None:
    page.goto(f"{base}/auth/login/")
    page.fill("#login-username", EMAIL)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")


@pytest.mark.browser
def test_forgotten_password_reset_in_a_real_browser(
    server: tuple[str, Path], smtp: tuple[_Inbox, int]
) -> None:
    chromium = _require_browser()
    from playwright.sync_api import expect, sync_playwright

    inbox, _ = smtp
    base, log_path = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            # A session started before the reset, on another "device".
            old = browser.new_context()
            old_page = old.new_page()
            _sign_in(old_page, base, OLD_PASSWORD)
            old_page.wait_for_url(re.compile(r"/organizations/[^/]+/$"))
            org_url = old_page.url

            # The forgetful user, in a fresh browser.
            ctx = browser.new_context()
            page = ctx.new_page()
            page.goto(f"{base}/auth/login/")
            page.click("text=Forgot your password?")
            page.wait_for_url(f"{base}/account/recover/")
            page.fill("#recover-email", EMAIL)
            page.click("#recover-form button[type=submit]")
            expect(page.locator("#recover-sent")).to_contain_text("If an account uses that address")

            msg = inbox.wait_for(EMAIL)
            body = msg.get_body(("plain",)).get_content()
            match = re.search(re.escape(base) + r"(/account/recover/confirm/\d+/[A-Za-z0-9_-]+/)", body)
            assert match, body
            link = base + match.group(1)

            page.goto(link)
            page.fill("#reset-password", "short")
            page.click("#reset-form button[type=submit]")
            expect(page.locator("#reset-password-error")).to_contain_text("too short")
            page.fill("#reset-password", NEW_PASSWORD)
            page.click("#reset-form button[type=submit]")
            page.wait_for_url(org_url)  # signed in by the reset

            # Signing in again with the new password works; the old one does not.
            sign_out(page)
            page.wait_for_url(re.compile(r"/auth/login/"))
            _sign_in(page, base, OLD_PASSWORD)
            expect(page.locator("#login-error")).to_contain_text("Please enter a correct email and password")
            _sign_in(page, base, NEW_PASSWORD)
            page.wait_for_url(org_url)

            # The session from before the reset is refused.
            old_page.goto(org_url)
            old_page.wait_for_url(re.compile(r"/auth/login/"))
            assert "/auth/login/" in old_page.url

            # The link is spent.
            other = browser.new_context().new_page()
            resp = other.goto(link)
            assert resp is not None and resp.status == 404
            expect(other.locator("#link-invalid")).to_contain_text("This link is not valid, or has expired.")
        finally:
            browser.close()
    # The access log shows the reset path with the token masked.
    raw = match.group(1).rstrip("/").rsplit("/", 1)[1]
    logged = log_path.read_text(errors="replace")
    assert "/account/recover/confirm/" in logged and "…" in logged
    assert raw not in logged


@pytest.mark.browser
def test_account_page_ends_another_session_with_htmx(server: tuple[str, Path]) -> None:
    chromium = _require_browser()
    from playwright.sync_api import expect, sync_playwright

    base, _ = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            other = browser.new_context(user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Firefox/128.0")
            other_page = other.new_page()
            _sign_in(other_page, base, OLD_PASSWORD)
            other_page.wait_for_url(re.compile(r"/organizations/[^/]+/$"))
            org_url = other_page.url

            page = browser.new_context().new_page()
            _sign_in(page, base, OLD_PASSWORD)
            page.wait_for_url(org_url)
            open_account_menu(page)
            page.click("#nav-account")
            page.wait_for_url(f"{base}/account/settings/")
            rows = page.locator("#sessions tbody tr")
            expect(rows).to_have_count(2)
            firefox = rows.filter(has_text="Firefox on Linux")
            asked: list[str] = []

            def confirm(dialog) -> None:  # htmx asks first (hx-confirm); without JavaScript a page asks
                asked.append(dialog.message)
                dialog.accept()

            page.once("dialog", confirm)
            firefox.locator("button").click()
            expect(rows).to_have_count(1)  # removed in place by htmx
            assert asked and asked[0].startswith("Sign out ")
            assert page.url == f"{base}/account/settings/"
            expect(rows.first).to_contain_text("this browser")

            # A failed form is swapped in place with the error beside the field.
            page.fill("#profile-name", "")
            page.eval_on_selector("#profile-name", "el => el.removeAttribute('required')")
            page.click("#profile-form button[type=submit]")
            expect(page.locator("#profile-name-error")).to_contain_text("Enter your name.")

            other_page.goto(org_url)
            other_page.wait_for_url(re.compile(r"/auth/login/"))
        finally:
            browser.close()
