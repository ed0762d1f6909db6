"""Issue 4's "Done means", in a real Chromium against the live app: accept an invite into an
SSO-required organization by signing in through the real OpenID Connect provider; enroll TOTP while
holding an invite to a 2FA-required organization and land in it."""

from __future__ import annotations

import pyotp
import pytest
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthIdentity, OrgFlags
from tests.browser_helpers import chromium_fixture, live_fixture, page_fixture, sign_out  # noqa: F401
from tests.factories import PASSWORD, make_invite, make_member, make_org, make_team, make_user
from tests.invite_security_helpers import accept_path, put_on_team
from tests.oidc_helpers import configure, oidc_provider_fixture  # noqa: F401
from tests.twofactor_helpers import enroll

# As deployed: every form and htmx request must carry its CSRF token.
pytestmark = [pytest.mark.browser, pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}])]


def _membership(org, email):
    db.session.rollback()  # end this thread's read transaction: see what the live server committed
    user = db.session.scalar(select(User).where(User.email == email))
    assert user is not None, f"no account for {email}"
    return user, orgs.get_membership(org, user)


def test_accept_invite_into_sso_required_org_through_the_real_provider(app, live, page, oidc_provider):
    assert app.config["WTF_CSRF_ENABLED"] is True
    org = make_org("Acme", slug="acme")
    owner = make_user("owner@acme.example")
    make_member(org, owner, role="owner")
    configure(org, owner, oidc_provider, required=True, allow_jit=False)
    team = make_team(org, "Ops")
    invite, raw = make_invite(org, "pat@example.com", role="admin", inviter=owner)
    put_on_team(invite, team)

    page.goto(live + accept_path(invite, raw))
    assert page.locator("h1").inner_text() == "Join Acme"
    page.get_by_role("button", name="Continue with Acme ID").click()
    page.wait_for_selector("#op-login-form")
    assert page.url.startswith(oidc_provider.issuer)
    page.fill("#login", "pat-sub|pat@example.com")
    page.click("#op-submit")
    page.wait_for_url(f"{live}/organizations/acme/")
    assert page.get_by_role("heading", level=1, name="Acme", exact=True).is_visible()  # beside its avatar
    assert "You have been added to the Acme organization." in page.content()
    assert "pat@example.com" in page.locator("#account-menu > summary").inner_text()

    user, member = _membership(org, "pat@example.com")
    assert member is not None and member.id == invite.id  # the invite itself, not a JIT membership
    assert member.role == "admin" and [t.slug for t in member.teams] == ["ops"]
    provider = orgs.auth_provider_for(org)
    linked = db.session.scalar(select(AuthIdentity).where(AuthIdentity.user_id == user.id))
    assert linked is not None and linked.auth_provider_id == provider.id and linked.ident == "pat-sub"
    # Required SSO is satisfied for this session: the organization's pages open.
    page.goto(f"{live}/organizations/acme/members/")
    assert page.url == f"{live}/organizations/acme/members/"


def test_enroll_totp_while_holding_an_invite_to_a_2fa_org_and_land_in_it(app, live, page):
    assert app.config["WTF_CSRF_ENABLED"] is True
    org = make_org("Secure Co", slug="secure")
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    enroll(owner)
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    invite, raw = make_invite(org, "newbie@example.com", role="manager", inviter=owner)

    page.goto(live + accept_path(invite, raw))
    assert "requires two-factor authentication" in page.locator("#invite-needs-2fa").inner_text()
    page.get_by_role("button", name="Create an account").click()
    page.wait_for_selector("#register-form")
    assert page.input_value("#register-username") == "newbie@example.com"
    page.fill("#register-form [name=name]", "Newbie")
    page.fill("#register-form [name=password]", PASSWORD)
    page.click("#register-form button[type=submit]")

    # Registered, not yet a member: the invite page says two-factor comes first.
    page.wait_for_url(live + accept_path(invite, raw))
    page.get_by_role("button", name="Set up two-factor authentication").click()
    page.wait_for_url(f"{live}/account/settings/security/")
    assert page.locator(".totp-qr svg").count() == 1
    secret = page.locator("#totp-secret").inner_text()
    page.fill("#totp-enroll-form #otp", pyotp.TOTP(secret).now())
    page.click("#totp-enroll-form button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10

    page.click("#continue-link")
    page.wait_for_url(f"{live}/organizations/secure/")
    assert page.get_by_role("heading", level=1, name="Secure Co", exact=True).is_visible()
    assert "You have been added to the Secure Co organization." in page.content()
    _user, member = _membership(org, "newbie@example.com")
    assert member is not None and member.id == invite.id and member.role == "manager"
    # The second factor is really on: signing out and in again asks for a code.
    sign_out(page)
    page.goto(f"{live}/auth/login/")
    page.fill("#login-username", "newbie@example.com")
    page.fill("#login-password", PASSWORD)
    page.click("#login-form button[type=submit]")
    page.wait_for_url(f"{live}/auth/2fa/")
