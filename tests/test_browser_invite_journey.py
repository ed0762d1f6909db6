"""End to end: an invitation from the members page to a new member, in a real Chromium, over real SMTP.

The app runs as ``onboarding serve`` (gunicorn, a real RQ worker, an embedded Redis) in a temporary
instance folder; its mail goes over SMTP to an aiosmtpd server on loopback started here. The owner is
made with ``onboarding createuser``. The owner invites an address on the members page, the invitee
follows the emailed link in a second browser context, registers with the invited (fixed) email, lands in
the organization, and the owner gets the "joined" email — sent by the member-joined receiver, through the
outbox, by the real worker.

Run once with JavaScript on (the htmx path of the invite form) and once with it off (plain POSTs).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Iterator
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest

from tests.conftest import chromium_path, free_port
from tests.e2e_serve import Served, served

OWNER = "owner@example.com"
OWNER_PASSWORD = "owner horse battery staple"
INVITEE_PASSWORD = "invitee passphrase 2026"
ORG_NAME = "Acme & Sons"
ORG_SLUG = "acme-sons"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TIMEOUT_MS = 30_000


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
    """Collects what the SMTP server receives (aiosmtpd handler, called on the server's thread)."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.messages.append(message_from_bytes(envelope.content, policy=default))  # type: ignore[arg-type]
        return "250 OK"

    def wait_for(self, to: str, subject_has: str, timeout: float = 60) -> EmailMessage:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for msg in list(self.messages):
                if msg["To"] == to and subject_has in str(msg["Subject"]):
                    return msg
            time.sleep(0.2)
        seen = [(m["To"], m["Subject"]) for m in self.messages]
        raise AssertionError(f"no email to {to} with {subject_has!r} within {timeout}s; got {seen}")


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
def server(smtp: tuple[_Inbox, int]) -> Iterator[Served]:
    _, smtp_port = smtp
    owner = ["--email", OWNER, "--password", OWNER_PASSWORD, "--superuser"]
    with served(
        [owner],
        ONBOARDING_MAIL_URL=f"smtp://127.0.0.1:{smtp_port}",
        ONBOARDING_ORGANIZATION_NAME=ORG_NAME,
    ) as srv:
        yield srv


def _sign_in(page: Any, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/auth/login/")
    page.fill("#login-username", email)
    page.fill("#login-password", password)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{base}/organizations/{ORG_SLUG}/")


def _accept_link(msg: EmailMessage, base: str) -> tuple[str, str, str]:
    """The link in the invite email: (full URL, member id, raw token). Both parts must carry it."""
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    match = re.search(re.escape(base) + r"/accept/(\d+)/([A-Za-z0-9_-]+)/", text)
    assert match, text
    assert match.group(0) in html
    assert "Acme &amp; Sons" in html and "Acme & Sons" in text  # names escaped in HTML only
    return match.group(0), match.group(1), match.group(2)


def _journey(browser: Any, srv: Served, inbox: _Inbox, *, javascript: bool) -> None:
    from playwright.sync_api import expect

    base = srv.base
    invitee = f"new-{'js' if javascript else 'nojs'}@example.com"
    members_url = f"{base}/organizations/{ORG_SLUG}/members/"

    owner_ctx = browser.new_context(java_script_enabled=javascript)
    owner_ctx.set_default_timeout(TIMEOUT_MS)
    owner = owner_ctx.new_page()
    _sign_in(owner, base, OWNER, OWNER_PASSWORD)
    owner.goto(members_url)
    expect(owner.locator("#pending-heading")).to_contain_text("(0)")

    # Invite on the members page.
    owner.fill("#emails", invitee)
    with owner.expect_response(lambda r: r.url == members_url and r.request.method == "POST") as answer:
        owner.click("#invite-form button[type=submit]")
    response = answer.value
    if javascript:
        # The htmx path: an HX-Request answered in place with the invites region, no navigation.
        assert response.request.headers.get("hx-request") == "true"
        assert response.status == 200
        expect(owner.locator("#invites-region .results")).to_contain_text(f"Invited {invitee}.")
        expect(owner.locator("#emails")).to_have_value("")
    else:
        assert response.request.headers.get("hx-request") is None
        assert response.status == 303
        owner.wait_for_load_state()
        expect(owner.locator("#flash")).to_contain_text(f"Invited {invitee}.")
    assert owner.url == members_url
    row = owner.locator("#invite-rows tr", has_text=invitee)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("pending")
    expect(row).to_contain_text(OWNER)  # the inviter
    expect(owner.locator("#pending-heading")).to_contain_text("(1)")

    # The invite email, through the real worker and SMTP.
    invite_mail = inbox.wait_for(invitee, "invited you to join")
    assert ORG_NAME in str(invite_mail["Subject"])
    link, member_id, token = _accept_link(invite_mail, base)

    # The invitee follows the link in a browser of their own.
    guest_ctx = browser.new_context(java_script_enabled=javascript)
    guest_ctx.set_default_timeout(TIMEOUT_MS)
    guest = guest_ctx.new_page()
    landing = guest.goto(link)
    assert landing is not None and landing.status == 200
    assert landing.headers.get("referrer-policy") == "no-referrer"
    expect(guest.locator("#invite h1")).to_have_text(f"Join {ORG_NAME}")
    expect(guest.locator("#invite")).to_contain_text(invitee)
    guest.get_by_role("button", name="Create an account").click()
    guest.wait_for_url(f"{base}/auth/register/")
    email_box = guest.locator("#register-username")
    expect(email_box).to_have_value(invitee)
    expect(email_box).to_have_attribute("readonly", "")
    guest.fill("#register-form input[name=name]", "New Person")
    guest.fill("#register-form input[name=password]", INVITEE_PASSWORD)
    guest.click("#register-form button[type=submit]")
    guest.wait_for_url(f"{base}/organizations/{ORG_SLUG}/")
    expect(guest.locator("#flash")).to_contain_text(f"You have been added to the {ORG_NAME} organization.")
    expect(guest.get_by_role("heading", level=1, name=ORG_NAME, exact=True)).to_be_visible()

    # The link is spent: the same friendly page for everyone now.
    spent = guest_ctx.new_page().goto(link)
    assert spent is not None and spent.status == 404

    # The inviter is told, by the member-joined receiver through the outbox and the worker.
    joined = inbox.wait_for(OWNER, "joined")
    assert str(joined["Subject"]) == f"New Person joined {ORG_NAME}"

    # The owner's page: the invite is no longer pending; the new member is listed.
    owner.goto(members_url)
    expect(owner.locator("#pending-heading")).to_contain_text("(0)")
    expect(owner.locator("#invite-rows tr", has_text=invitee)).to_have_count(0)
    expect(owner.locator("#members-heading + div table tbody")).to_contain_text(invitee)
    owner.goto(f"{base}/organizations/{ORG_SLUG}/")
    expect(owner.locator("#task-invite_member")).to_have_class("done")

    # Access logs show the accept path with the token masked; the token appears in no log line.
    logged = srv.log.read_text(errors="replace")
    assert f"/accept/{member_id}/…/" in logged
    assert token not in logged

    owner_ctx.close()
    guest_ctx.close()


@pytest.mark.browser
@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_invite_journey_in_a_real_browser(server: Served, smtp: tuple[_Inbox, int], javascript: bool) -> None:
    chromium = _require_browser()
    from playwright.sync_api import sync_playwright

    inbox, _ = smtp
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            _journey(browser, server, inbox, javascript=javascript)
        finally:
            browser.close()
