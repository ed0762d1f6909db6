"""axe-core (from npm, installed into tests/a11y/node_modules on first use) finds no WCAG 2.1 A/AA
violation on the main pages, at desktop and phone widths, with the phone menu open too."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.test_browser_shell import DESKTOP, PHONE, seed, sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]

A11Y_DIR = Path(__file__).resolve().parent / "a11y"
AXE = A11Y_DIR / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.is_file():
        npm = shutil.which("npm")
        if npm is None:
            pytest.fail("npm is needed to install axe-core for the accessibility tests")
        subprocess.run(
            [npm, "install", "--no-package-lock", "--prefix", str(A11Y_DIR), "--silent"],
            check=True,
            timeout=300,
        )
    return AXE.read_text()


def violations(page: Any, axe_source: str) -> list[str]:
    page.add_script_tag(content=axe_source)  # the context bypasses the CSP for this one script
    found = page.evaluate("tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", TAGS)
    return [
        f"{v['id']}: {v['help']} ({', '.join(str(n['target']) for n in v['nodes'][:3])})"
        for v in found["violations"]
    ]


def test_main_pages_have_no_axe_violations(app: Any, live: str, page: Any, axe_source: str) -> None:
    data = seed()
    org = f"/organizations/{data['org'].slug}"
    # Reduced motion: Pico then drops its colour transitions, so axe measures the colours a person sees
    # once a click's hover transition has ended, not a frame in the middle of it (a flaky contrast error).
    context = page.context.browser.new_context(bypass_csp=True, reduced_motion="reduce")
    tab = context.new_page()
    problems: dict[str, list[str]] = {}

    def check(label: str, path: str, *, open_menu: bool = False) -> None:
        for width, size in (("1280", DESKTOP), ("390", PHONE)):
            tab.set_viewport_size(size)
            tab.goto(live + path)
            if open_menu and width == "390":
                tab.click("#phone-menu > summary")
            found = violations(tab, axe_source)
            if found:
                problems[f"{label} at {width}"] = found

    for path in ("/auth/login/", "/auth/register/", "/account/recover/"):
        check(path, path)
    sign_in(tab, live, "owner@example.com")
    for path in (
        f"{org}/",
        f"{org}/members/",
        f"{org}/teams/",
        f"{org}/teams/rocket-science/",
        f"{org}/audit-log/",
        f"{org}/settings/",
        "/account/settings/",
        "/account/settings/security/",
        "/account/settings/tokens/",
    ):
        check(path, path, open_menu=path == f"{org}/")
    tab.goto(f"{live}{org}/members/")
    token = tab.locator("tr", has_text="newcomer@example.com").locator("input[name=c]").get_attribute("value")
    check("confirmation page", f"/confirm/?c={token}")
    context.clear_cookies()
    sign_in(tab, live, "root@example.com")
    for path in ("/manage/users/", "/manage/status/"):
        check(path, path, open_menu=True)
    context.close()
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
