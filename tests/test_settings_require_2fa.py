"""Turning on require2FA from the settings API evicts members without two-factor into pending invites."""

from __future__ import annotations

from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, OrgFlags
from tests.factories import login, make_member, make_org, make_user, sent_mail
from tests.twofactor_helpers import code, enroll


def test_require_2fa_makes_members_without_it_pending(app, client):
    org = make_org("Secure", slug="secure")
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    enroll(owner)
    db.session.commit()
    plain = make_user("plain@example.com")
    make_member(org, plain)
    client.post(
        "/auth/login/",
        data={"op": "login", "username": "owner@example.com", "password": "correct horse battery staple"},
    )
    client.post("/auth/2fa/", data={"otp": code(steps=1)})
    resp = client.put("/api/0/organizations/secure/", json={"require2FA": True})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(type(org), org.id).has_flag(OrgFlags.REQUIRE_2FA)
    row = db.session.scalar(select(OrganizationMember).where(OrganizationMember.email == "plain@example.com"))
    assert row is not None and row.user_id is None and row.token_hash
    owner_row = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == owner.id))
    assert owner_row is not None  # the owner has two-factor and stays
    assert [m["To"] for m in sent_mail(app)] == ["plain@example.com"]
    assert db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "member.pending")) is not None


def test_require_2fa_refused_without_personal_2fa(app, client):
    org = make_org("Secure", slug="secure")
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    login(client, "owner@example.com")
    resp = client.put("/api/0/organizations/secure/", json={"require2FA": True})
    assert resp.status_code == 400
    assert "Cannot require two-factor authentication without personal two-factor enabled." in str(
        resp.get_json()
    )
