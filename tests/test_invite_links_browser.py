"""End to end in a real Chromium: a stranger follows a domain-locked invite link, registers (registration
is closed otherwise), opens the confirmation emailed to the address, and lands in the organization as a
member — with JavaScript on (htmx) and off."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.invitelinks import service as links
from onboarding.orgs.models import OrganizationMember
from tests.browser_helpers import chromium_fixture, live_fixture  # noqa: F401
from tests.factories import default_org, make_member, make_user, sent_mail

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.mark.parametrize("javascript", [True, False], ids=["htmx", "no-js"])
def test_stranger_joins_through_a_domain_locked_link_after_the_emailed_confirmation(
    app, live, chromium, javascript
):
    from playwright.sync_api import sync_playwright

    org = default_org()
    owner = make_user("owner@corp.example")
    make_member(org, owner, "owner")
    _link, raw = links.create(
        org,
        owner,
        "owner",
        role="member",
        max_uses=5,
        expires_days=7,
        allowed_domains=["corp.example"],
        require_approval=False,
        ip=None,
    )
    db.session.commit()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_context(
                java_script_enabled=javascript, viewport={"width": 390, "height": 800}
            ).new_page()
            page.set_default_timeout(15000)
            page.goto(f"{live}/join/{raw}/")
            assert "only for addresses at corp.example" in page.inner_text("#join-link")
            page.click("#join-register")
            # An address outside the link's domains is refused, and no account is made.
            page.fill("#register-form [name=name]", "Stranger")
            page.fill("#register-form [name=username]", "stranger@elsewhere.example")
            page.fill("#register-form [name=password]", "a long enough passphrase 42")
            page.click("#register-form button[type=submit]")
            page.wait_for_selector("text=This link is only for addresses at corp.example.")
            db.session.rollback()
            assert db.session.scalar(select(User).where(User.email == "stranger@elsewhere.example")) is None
            page.fill("#register-form [name=username]", "ann@corp.example")
            page.fill("#register-form [name=password]", "a long enough passphrase 42")
            page.click("#register-form button[type=submit]")
            page.wait_for_selector("text=We sent a confirmation link to ann@corp.example")
            db.session.rollback()
            ann = db.session.scalar(select(User).where(User.email == "ann@corp.example"))
            assert ann is not None
            assert (
                db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == ann.id))
                is None
            )
            message = [m for m in sent_mail(app) if m["To"] == "ann@corp.example"][-1]
            url = re.search(
                r"https?://\S+/join/confirm/\S+/", message.get_body(("plain",)).get_content()
            ).group(0)
            page.goto(url)
            page.click("#join-confirm-form button[type=submit]")
            page.wait_for_selector(f"text=You have been added to the {org.name} organization.")
            assert page.url.endswith(f"/organizations/{org.slug}/")
            assert page.evaluate("document.documentElement.scrollWidth") <= 390
        finally:
            browser.close()
    db.session.rollback()
    member = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == ann.id))
    assert member is not None and member.role == "member"
