"""End-to-end in a real Chromium: sign in through the real OpenID Connect provider; enroll TOTP."""

from __future__ import annotations

import pyotp
import pytest

from onboarding.accounts import service as accounts
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import OrgFlags
from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture  # noqa: F401
from tests.factories import PASSWORD, make_member, make_org, make_user
from tests.oidc_helpers import configure, oidc_provider_fixture  # noqa: F401

pytestmark = pytest.mark.browser


def test_sign_in_through_the_real_provider(live, page, oidc_provider):
    org = make_org("Acme", slug="acme")
    owner = make_user("owner@acme.example")
    make_member(org, owner, role="owner")
    configure(org, owner, oidc_provider, allow_jit=True)

    page.goto(f"{live}/auth/login/acme/")
    page.get_by_role("button", name="Continue with Acme ID").click()
    page.wait_for_selector("#op-login-form")
    assert page.url.startswith(oidc_provider.issuer)
    page.fill("#login", "pat")
    page.click("#op-submit")
    page.wait_for_url(f"{live}/organizations/acme/")
    assert page.locator("h1").inner_text() == "Acme"
    assert "pat@example.com" in page.content()
    db.session.expire_all()
    pat = accounts.get_user_by_email("pat@example.com")
    assert pat is not None and orgs.get_membership(org, pat) is not None


def test_enroll_totp_to_enter_an_org_that_requires_it(live, page):
    org = make_org("Secure", slug="secure")
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    make_member(org, make_user("sam@example.com"))
    db.session.commit()

    page.goto(f"{live}/auth/login/?next=/organizations/secure/")
    page.fill("#login-username", "sam@example.com")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live}/account/settings/security/")
    assert "requires two-factor authentication" in page.content()
    assert page.locator(".totp-qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#totp-enroll-form #otp", pyotp.TOTP(secret).now())
    page.click("#totp-enroll-form button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("#continue-link")
    page.wait_for_url(f"{live}/organizations/secure/")
    assert page.locator("h1").inner_text() == "Secure"
