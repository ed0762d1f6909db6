"""Helpers for the tests of invites into organizations that require two-factor or SSO."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, OrganizationMemberTeam, Team

INVALID = "The invite link you followed is not valid, or has expired."


def accept_path(member: OrganizationMember, raw: str) -> str:
    return f"/accept/{member.id}/{raw}/"


def put_on_team(member: OrganizationMember, team: Team) -> None:
    db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=member.id))
    db.session.commit()


def secret_on(html: str) -> str:
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert match, "no #totp-secret on the page"
    return match.group(1)


def enroll_through_page(client: Any) -> Any:
    """Open the security page, read the key shown, confirm it with the current code; returns the answer."""
    page = client.get("/account/settings/security/")
    assert page.status_code == 200
    secret = secret_on(page.get_data(as_text=True))
    return client.post("/account/settings/security/", data={"otp": pyotp.TOTP(secret).now()})


def continue_link(html: str) -> str | None:
    match = re.search(r'id="continue-link"[^>]*href="([^"]+)"', html)
    return match.group(1) if match else None


def invite_keys(client: Any) -> set[str]:
    with client.session_transaction() as sess:
        return {k for k in ("invite_member_id", "invite_token", "invite_organization_id") if k in sess}


def link_sent_to(app: Any, address: str) -> str:
    """The accept path of the newest email to ``address`` in the mail folder."""
    from tests.factories import link_in, sent_mail

    mails = [m for m in sent_mail(app) if address in str(m["To"])]
    assert mails, f"no email to {address}"
    base = app.config["BASE_URL"]
    link = link_in(mails[-1])
    assert link.startswith(base + "/accept/")
    return link.removeprefix(base)
