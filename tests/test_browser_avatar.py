"""In a real browser: upload an organization avatar and see it replace the letter avatar.

The app runs as it does in production: gunicorn serving ``app:app`` and a separate ``onboarding
worker`` process taking the save job from the ``files`` queue (JOBS_SYNC off), on a SQLite database
in a temporary instance folder and the test run's Redis.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from avatar_helpers import png

from tests.conftest import chromium_path, free_port, run
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser
ROOT = Path(__file__).resolve().parent.parent
EMAIL = "browser-owner@example.com"


def _need_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("ONBOARDING_REQUIRE_BROWSER") == "1":
            pytest.fail("Chromium is required (ONBOARDING_REQUIRE_BROWSER=1) but was not found")
        pytest.skip("no Chromium on this machine")
    return path


@pytest.fixture
def live_server(tmp_path: Path, redis_url: str) -> Iterator[str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env.update(
        ONBOARDING_INSTANCE_PATH=str(tmp_path / "instance"),
        ONBOARDING_DATABASE_URL=f"sqlite:///{tmp_path / 'browser.sqlite3'}",
        ONBOARDING_REDIS_URL=redis_url,
        ONBOARDING_BASE_URL=base,
        ONBOARDING_MAIL_URL=f"file://{tmp_path / 'mail'}",
        ONBOARDING_ARGON2_MEMORY_COST="8",
        ONBOARDING_ARGON2_TIME_COST="1",
    )
    cli = [sys.executable, "-m", "onboarding.cli"]
    created = run(
        [*cli, "createuser", "--email", EMAIL, "--password", PASSWORD, "--superuser", "--no-input"],
        env=env,
        cwd=ROOT,
    )
    assert created.returncode == 0, created.stderr
    logs = tmp_path / "logs"
    logs.mkdir()
    procs = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                "1",
                "--threads",
                "4",
                "--worker-class",
                "gthread",
                "--chdir",
                str(ROOT),
                "app:app",
            ],
            env=env,
            stdout=(logs / "web.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
        subprocess.Popen(
            [*cli, "worker", "files", "email"],
            env=env,
            stdout=(logs / "worker.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ),
    ]
    try:
        deadline = time.monotonic() + 90  # generous: CI machines can be slow to import the app
        while True:
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                    raise AssertionError((logs / "web.log").read_text()) from None
                time.sleep(0.2)
        yield base
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _sign_in(page, base: str) -> None:
    page.goto(f"{base}/auth/login/")
    page.fill("#login-form [name=username]", EMAIL)
    page.fill("#login-form [name=password]", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/organizations/**")


def test_avatar_upload_replaces_letter_avatar(live_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _need_chromium()
    picture = tmp_path / "picture.png"
    picture.write_bytes(png(300, 200, (20, 120, 220)))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
            _sign_in(page, live_server)
            page.goto(f"{live_server}/organizations/default/settings/")
            assert page.locator("#org-settings-form").is_visible()
            assert page.locator("#avatar-current svg").count() == 1  # the letter avatar
            assert page.locator("#avatar-current svg text").text_content() == "D"

            page.set_input_files("#avatar_photo", str(picture))
            page.click("#avatar-form button[type=submit]")
            image = page.locator("#avatar-current img#avatar-image")
            image.wait_for(state="visible", timeout=60_000)  # after the worker has saved it
            assert page.locator("#avatar-current svg").count() == 0
            assert page.url.endswith("/organizations/default/settings/")  # htmx: no page load
            src = image.get_attribute("src") or ""
            assert src.startswith("/organization-avatar/") and "?s=120" in src
            page.wait_for_function("document.querySelector('#avatar-image').naturalWidth === 120")
            assert not [e for e in errors if "Content Security Policy" in e], errors

            # The API now shows the picture, and a fresh page load shows it too.
            page.reload()
            assert page.locator("#avatar-current img#avatar-image").count() == 1
        finally:
            browser.close()


def test_trusted_relay_rows_with_htmx(live_server: str) -> None:
    from playwright.sync_api import sync_playwright

    executable = _need_chromium()
    key = "zJhhe6C3RHl0WpbGEsjKnKQVZpMdrX8xeYk2gAESL6Y"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            _sign_in(page, live_server)
            page.goto(f"{live_server}/organizations/default/settings/")
            page.click("#trusted-relays > summary")  # relays are tucked away until wanted
            page.fill("[name=relay-0-name]", "edge relay")
            page.fill("[name=relay-0-publicKey]", key)
            page.click("#add-relay")
            page.locator("[name=relay-1-name]").wait_for()
            assert page.input_value("[name=relay-0-name]") == "edge relay"  # kept while adding
            page.fill("[name=relay-1-name]", "to be removed")
            page.locator("#trusted-relays fieldset.relay-row").nth(1).locator("button").click()
            page.locator("[name=relay-1-name]").wait_for(state="detached")
            page.click("#org-settings-form button[value=save]:not(.visually-hidden)")
            page.wait_for_load_state()
            page.locator("text=Organization settings saved.").wait_for()
            assert page.input_value("[name=relay-0-publicKey]") == key
            page.fill("[name=relay-1-name]", "broken")
            page.fill("[name=relay-1-publicKey]", "not-a-key")
            page.click("#org-settings-form button[value=save]:not(.visually-hidden)")
            page.locator("#trustedRelays-error", has_text="Invalid public key").wait_for()
        finally:
            browser.close()


def test_avatar_upload_without_javascript(live_server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    executable = _need_chromium()
    picture = tmp_path / "picture.jpg"
    picture.write_bytes(png(200, 200, (200, 20, 20), fmt="JPEG"))
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        try:
            context = browser.new_context(java_script_enabled=False)
            page = context.new_page()
            _sign_in(page, live_server)
            page.goto(f"{live_server}/organizations/default/settings/")
            page.set_input_files("#avatar_photo", str(picture))
            page.click("#avatar-form button[type=submit]")
            page.wait_for_url("**/settings/avatar/*/")
            for _ in range(120):  # the plain page says "processing" and offers a refresh link
                if page.locator("#avatar-saved").count():
                    break
                assert page.locator("#avatar-processing a").count() == 1
                time.sleep(0.5)
                page.click("#avatar-processing a")
            assert page.locator("#avatar-saved").count() == 1
            assert page.locator("#avatar-current img#avatar-image").count() == 1
        finally:
            browser.close()
