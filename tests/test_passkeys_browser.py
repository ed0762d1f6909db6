"""Passkeys in a real Chromium, with its virtual authenticator (Chrome DevTools Protocol ``WebAuthn``
domain) standing in for a phone or a laptop's fingerprint reader.

WebAuthn needs a secure context: Chromium treats ``http://localhost`` as one, and a relying-party id
must be a domain, so the app is served as ``http://localhost:<port>`` (ONBOARDING_BASE_URL).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from werkzeug.serving import make_server

from onboarding.extensions import db
from onboarding.orgs.models import OrgFlags
from onboarding.passkeys.models import Passkey
from tests.browser_helpers import chromium_fixture, sign_out  # noqa: F401
from tests.conftest import free_port
from tests.factories import PASSWORD, default_org, make_invite, make_member, make_user
from tests.twofactor_helpers import enroll

pytestmark = [pytest.mark.browser, pytest.mark.slow]

try:
    from playwright.sync_api import expect
except ImportError:  # reported by the chromium fixture
    expect = None  # type: ignore[assignment]

SHOTS = Path()  # each test's own tmp_path (below): nothing with a fixed name is left in /tmp


@pytest.fixture(autouse=True)
def _screenshots_in_tmp_path(tmp_path: Path) -> None:
    global SHOTS
    SHOTS = tmp_path


def _serve(app: Any, port: int) -> Iterator[None]:
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)


@pytest.fixture
def base(app: Any) -> Iterator[str]:
    port = free_port()
    url = f"http://localhost:{port}"
    app.config["BASE_URL"] = url
    yield from (url for _ in _serve(app, port))


@pytest.fixture
def browser(chromium: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        instance = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            yield instance
        finally:
            instance.close()


class Device:
    """A browser tab with a virtual platform authenticator (resident keys, user verification)."""

    def __init__(self, browser: Any, width: int = 1280, height: int = 900, *, autofill: bool = False) -> None:
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.context.set_default_timeout(15000)
        if not autofill:
            # The virtual authenticator answers an autofill (conditional) request at once, which would
            # sign in before anyone types or clicks: most tests use a browser without that feature.
            self.context.add_init_script(
                "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable = "
                "() => Promise.resolve(false);"
            )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.dialogs: list[str] = []
        self.page.on("dialog", self._accept)
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable", {"enableUI": False})
        self.authenticator = self.cdp.send(
            "WebAuthn.addVirtualAuthenticator",
            {
                "options": {
                    "protocol": "ctap2",
                    "transport": "internal",
                    "hasResidentKey": True,
                    "hasUserVerification": True,
                    "isUserVerified": True,
                    "automaticPresenceSimulation": True,
                }
            },
        )["authenticatorId"]

    def _accept(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.accept()

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.authenticator})
        return list(found["credentials"])

    def sign_in_with_password(self, base: str, email: str) -> None:
        self.page.goto(f"{base}/auth/login/")
        self.page.locator("#login-username").fill(email)
        self.page.locator("#login-password").fill(PASSWORD)
        self.page.get_by_role("button", name="Sign in", exact=True).click()

    def add_passkey(self, base: str, name: str) -> None:
        self.page.goto(f"{base}/account/settings/security/")
        expect(self.page.locator("#passkey-needs-js")).to_be_hidden()
        self.page.locator("#passkey-new-name").fill(name)
        self.page.locator("#passkey-add").click()

    def close(self) -> None:
        self.context.close()


def _user(email: str, *, org_member: bool = True) -> None:
    user = make_user(email)
    if org_member:
        make_member(default_org(), user)
    db.session.commit()
    db.session.close()  # hold no SQLite transaction while the server answers


def _passkeys() -> list[Passkey]:
    rows = list(db.session.scalars(select(Passkey).order_by(Passkey.id)))
    db.session.close()
    return rows


def test_add_then_sign_in_without_a_password_then_remove(browser: Any, base: str) -> None:
    _user("ada@example.com")
    device = Device(browser)
    page = device.page
    device.sign_in_with_password(base, "ada@example.com")
    page.wait_for_url(f"{base}/organizations/default/")

    device.add_passkey(base, "Work laptop")
    page.wait_for_url(f"{base}/account/settings/security/")
    expect(page.locator("#passkeys")).to_contain_text("Work laptop")
    expect(page.locator("#passkeys")).to_contain_text("never used")
    (passkey,) = _passkeys()
    assert len(device.credentials()) == 1 and device.credentials()[0]["isResidentCredential"]
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-security-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-security-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})

    # Sign out, then in again with the passkey alone: no email typed.
    sign_out(page)
    page.wait_for_url(f"{base}/auth/login/")
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-signin-1280.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-signin-390.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("#passkey-signin").click()
    page.wait_for_url(f"{base}/organizations/default/")
    page.goto(f"{base}/account/settings/security/")
    expect(page.locator("#passkeys")).to_contain_text("last used")

    # Remove it (a fresh sign-in: no password asked; the browser asks to confirm).
    page.locator(f"#passkey-remove-{passkey.id} button").click()
    expect(page.locator("#passkeys-empty")).to_be_visible()
    assert device.dialogs == ["Remove the passkey “Work laptop”?"]
    assert _passkeys() == []

    # The authenticator still holds the credential, but the site no longer knows it.
    sign_out(page)
    page.wait_for_url(f"{base}/auth/login/")
    page.locator("#passkey-signin").click()
    expect(page.locator("#passkey-signin-error")).to_contain_text("not registered")
    assert page.url == f"{base}/auth/login/"
    assert device.errors == []
    device.close()


def test_password_sign_in_asks_for_the_passkey_as_second_factor(browser: Any, base: str) -> None:
    _user("bob@example.com")
    device = Device(browser)
    page = device.page
    device.sign_in_with_password(base, "bob@example.com")
    page.wait_for_url(f"{base}/organizations/default/")
    device.add_passkey(base, "Phone")
    expect(page.locator("#passkeys")).to_contain_text("Phone")
    sign_out(page)
    page.wait_for_url(f"{base}/auth/login/")

    device.sign_in_with_password(base, "bob@example.com")
    page.wait_for_url(f"{base}/auth/2fa/")
    expect(page.locator("#twofactor-form")).to_have_count(0)  # no authenticator app: no code form
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-2fa-390.png"), full_page=True)
    page.locator("#passkey-second").click()
    page.wait_for_url(f"{base}/organizations/default/")
    assert device.errors == []
    device.close()


def test_org_requiring_two_factor_accepts_a_passkey_only_member(browser: Any, base: str) -> None:
    """An invite to an organization that requires two-factor waits on enrollment; adding a passkey
    completes it, and the member stays when the requirement is turned on again."""
    owner = make_user("owner@example.com")
    org = default_org()
    make_member(org, owner, role="owner")
    enroll(owner)
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    member, raw = make_invite(org, "cleo@example.com", inviter=owner)
    member_id = member.id
    make_user("cleo@example.com")
    db.session.commit()
    db.session.close()

    device = Device(browser, 390, 844)
    page = device.page
    page.goto(f"{base}/accept/{member_id}/{raw}/")
    expect(page.locator("#invite-needs-2fa")).to_be_visible()
    device.sign_in_with_password(base, "cleo@example.com")
    page.wait_for_url(f"{base}/accept/{member_id}/{raw}/")
    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.wait_for_url(f"{base}/account/settings/security/")
    device.add_passkey(base, "Phone")
    page.wait_for_url(f"{base}/organizations/default/")
    expect(page.get_by_text("You have been added to the Default organization.")).to_be_visible()
    member_ids = db.session.scalars(select(Passkey.user_id)).all()
    db.session.close()
    assert len(member_ids) == 1
    assert device.errors == []
    device.close()


def test_replayed_and_foreign_origin_assertions_are_refused(app: Any, browser: Any, base: str) -> None:
    _user("dan@example.com")
    device = Device(browser)
    page = device.page
    device.sign_in_with_password(base, "dan@example.com")
    page.wait_for_url(f"{base}/organizations/default/")
    device.add_passkey(base, "Laptop")
    expect(page.locator("#passkeys")).to_contain_text("Laptop")
    sign_out(page)
    page.wait_for_url(f"{base}/auth/login/")

    # Sign in, keeping the assertion the page sent.
    sent: list[str] = []
    page.on(
        "request",
        lambda r: sent.append(r.post_data or "") if r.url.endswith("/auth/passkey/signin/") else None,
    )
    page.locator("#passkey-signin").click()
    page.wait_for_url(f"{base}/organizations/default/")
    sign_out(page)
    page.wait_for_url(f"{base}/auth/login/")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    headers = {"X-CSRFToken": token or "", "Content-Type": "application/json"}

    replay = page.request.post(f"{base}/auth/passkey/signin/", data=sent[0], headers=headers)
    assert replay.status == 422
    # A fresh challenge does not make the old answer good either: it signs another challenge.
    page.request.post(f"{base}/auth/passkey/signin/options/", data="{}", headers=headers)
    replay = page.request.post(f"{base}/auth/passkey/signin/", data=sent[0], headers=headers)
    assert replay.status == 422

    # Another origin on the same host (the relying-party id ignores the port): the page says where
    # passkeys work, and an assertion the browser makes there is refused by the real site.
    other_port = free_port()
    for _ in _serve(app, other_port):
        other = f"http://localhost:{other_port}"
        page.goto(f"{other}/auth/login/")
        expect(page.locator("#passkey-origin-warning")).to_contain_text(f"Passkeys work only at {base}/")
        expect(page.locator("#passkey-signin")).to_have_count(0)
        options = page.request.post(f"{base}/auth/passkey/signin/options/", data="{}", headers=headers).json()
        assertion = page.evaluate(
            """async (options) => {
                const b = (s) => Uint8Array.from(atob(s.replace(/-/g, '+').replace(/_/g, '/')), c => c.charCodeAt(0));
                const e = (buf) => btoa(String.fromCharCode(...new Uint8Array(buf)))
                    .replace(/\\+/g, '-').replace(/\\//g, '_').replace(/=+$/, '');
                const cred = await navigator.credentials.get({publicKey: {...options, challenge: b(options.challenge)}});
                const r = cred.response;
                return {id: cred.id, rawId: e(cred.rawId), type: cred.type, clientExtensionResults: {},
                        response: {clientDataJSON: e(r.clientDataJSON), authenticatorData: e(r.authenticatorData),
                                   signature: e(r.signature), userHandle: r.userHandle ? e(r.userHandle) : null}};
            }""",
            options["publicKey"],
        )
        assert json.loads(bytes(_b64(assertion["response"]["clientDataJSON"])))["origin"] == other
        refused = page.request.post(
            f"{base}/auth/passkey/signin/", data=json.dumps({"credential": assertion}), headers=headers
        )
        assert refused.status == 422
    page.goto(f"{base}/account/settings/security/")
    page.wait_for_url(f"{base}/auth/login/**")  # still signed out
    device.close()


def _b64(value: str) -> bytes:
    from webauthn.helpers import base64url_to_bytes

    return base64url_to_bytes(value)


def test_autofill_signs_in_where_the_browser_supports_it(browser: Any, base: str) -> None:
    _user("eve@example.com")
    device = Device(browser, autofill=True)
    page = device.page
    device.sign_in_with_password(base, "eve@example.com")
    page.wait_for_url(f"{base}/organizations/default/")
    device.add_passkey(base, "Laptop")
    expect(page.locator("#passkeys")).to_contain_text("Laptop")
    sign_out(page)
    # The sign-in page asks the browser for a passkey in the email field's autofill; the virtual
    # authenticator picks its only one at once, so the page signs in without a click.
    page.wait_for_url(f"{base}/organizations/default/")
    assert device.errors == []
    device.close()


def test_without_javascript_the_pages_say_passkeys_need_it(browser: Any, base: str) -> None:
    _user("fay@example.com")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    page = context.new_page()
    page.goto(f"{base}/auth/login/")
    expect(page.locator("#passkey-needs-js")).to_contain_text("needs JavaScript")
    expect(page.locator("#passkey-signin")).to_be_hidden()
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-signin-nojs-390.png"), full_page=True)
    page.locator("#login-username").fill("fay@example.com")
    page.locator("#login-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{base}/organizations/default/")
    page.goto(f"{base}/account/settings/security/")
    expect(page.locator("#passkey-needs-js")).to_contain_text("Adding a passkey needs JavaScript")
    expect(page.locator("#passkey-add")).to_be_hidden()
    page.screenshot(path=str(SHOTS / "onboarding-passkeys-security-nojs-390.png"), full_page=True)
    context.close()
