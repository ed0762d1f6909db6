"""Forms in a real Chromium: Enter saves the organization's name; an expired form under htmx keeps what
was typed, says so, and goes through when sent again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.factories import default_org, make_member, make_user
from tests.test_browser_shell import sign_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}]),
]


def _owner() -> str:
    org = default_org()
    make_member(org, make_user("owner@example.com", name="Olive Owner"), "owner")
    return f"/organizations/{org.slug}/settings/"


def test_enter_in_the_name_field_saves(app: Any, live: str, page: Any) -> None:
    url = _owner()
    plain = page.context.browser.new_context(java_script_enabled=False).new_page()
    for tab, name in ((page, "Acme Rockets"), (plain, "Acme Plain")):
        sign_in(tab, live, "owner@example.com")
        tab.goto(live + url)
        tab.fill("#name", name)
        tab.press("#name", "Enter")
        tab.locator("#flash").get_by_text("Organization settings saved.").wait_for()
        assert tab.locator("#name").input_value() == name
    plain.context.close()


def test_an_expired_form_under_htmx_keeps_the_input(app: Any, live: str, page: Any) -> None:
    url = _owner()
    sign_in(page, live, "owner@example.com")
    page.goto(live + url)
    # The session's token no longer matches the page's (as after an hour, or a sign-in elsewhere).
    page.evaluate(
        """() => {
        document.querySelectorAll('input[name="csrf_token"]').forEach(i => { i.value = 'expired'; });
        document.body.setAttribute('hx-headers', JSON.stringify({'X-CSRFToken': 'expired'}));
    }"""
    )
    page.fill("#name", "Typed Before Expiry")
    page.press("#name", "Enter")
    note = page.locator("#org-settings-form .form-expired")
    note.wait_for()
    assert note.inner_text() == "This form expired; your input is kept, send it again."
    assert page.locator("#name").input_value() == "Typed Before Expiry"
    page.press("#name", "Enter")  # the fresh token is in place: this time it saves
    page.locator("#flash").get_by_text("Organization settings saved.").wait_for()
    assert page.locator("#name").input_value() == "Typed Before Expiry"
