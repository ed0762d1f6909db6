"""Organizations that require two-factor (spec §1.11 ``require2FA``, §3): policy, eviction, gate."""

from __future__ import annotations

import hashlib
import re

import pyotp
import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, OrgFlags
from onboarding.twofactor import policy
from tests.factories import login, make_member, make_org, make_provider, make_team, make_user
from tests.twofactor_helpers import code, empty_mailbox, enroll, mails_to, text_of  # noqa: F401


def _sign_in_2fa(client, email):
    login(client, email)
    assert client.post("/auth/2fa/", data={"otp": code(steps=1)}).status_code == 303


@pytest.fixture
def org_and_owner(app):
    org = make_org("Secure Co", slug="secure-co")
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    return org, owner


def test_needs_personal_2fa(org_and_owner):
    org, owner = org_and_owner
    with pytest.raises(policy.PolicyError) as exc:
        policy.set_require_2fa(org, True, owner, "127.0.0.1")
    assert str(exc.value) == "Cannot require two-factor authentication without personal two-factor enabled."
    db.session.rollback()
    assert not org.has_flag(OrgFlags.REQUIRE_2FA)


def test_refused_with_sso(org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    make_provider(org)
    with pytest.raises(policy.PolicyError) as exc:
        policy.set_require_2fa(org, True, owner, "127.0.0.1")
    assert str(exc.value) == "Cannot require two-factor authentication with SSO enabled"


def test_turning_on_makes_members_without_2fa_pending_invites(app, org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    compliant = make_user("ok@example.com")
    enroll(compliant, secret=pyotp.random_base32())
    make_member(org, compliant)
    lax = make_user("lax@example.com")
    lax_member = make_member(org, lax, role="manager")
    team = make_team(org, "Core")
    from onboarding.orgs import service as orgs

    orgs.add_team_member(team, lax_member)
    db.session.commit()

    made = policy.set_require_2fa(org, True, owner, "10.1.2.3")
    db.session.commit()

    assert [m.id for m in made] == [lax_member.id]
    assert org.has_flag(OrgFlags.REQUIRE_2FA)
    row = db.session.get(OrganizationMember, lax_member.id)
    assert row.user_id is None and row.email == "lax@example.com" and row.role == "manager"
    assert [t.slug for t in row.teams] == ["core"]  # teams kept for the return
    assert row.token_hash and len(row.token_hash) == 64 and not row.token_expired()
    assert orgs.get_membership(org, compliant) is not None and orgs.get_membership(org, owner) is not None

    mails = mails_to(app, "lax@example.com")
    assert len(mails) == 1
    body = text_of(mails[0])
    link = re.search(r"http://onboarding\.test/accept/(\d+)/([A-Za-z0-9_-]+)/", body)
    assert link and int(link.group(1)) == lax_member.id
    raw = link.group(2)
    assert len(raw) >= 43 and hashlib.sha256(raw.encode()).hexdigest() == row.token_hash
    assert raw not in str(db.session.scalars(select(AuditLogEntry.data)).all())
    assert not mails_to(app, "ok@example.com") and not mails_to(app, "owner@example.com")

    pending = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "member.pending"))
    assert pending is not None
    assert pending.actor_id == owner.id and pending.target_user_id == lax.id
    assert pending.organization_id == org.id and pending.ip_address == "10.1.2.3"
    edit = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "org.edit"))
    assert edit is not None and edit.data == {"require_2fa": "to True"}


def test_only_owner_alone_sends_no_mail(app, org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    assert policy.set_require_2fa(org, True, owner, None) == []
    db.session.commit()
    assert not mails_to(app, "owner@example.com")


def test_turning_off_changes_no_members(org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    policy.set_require_2fa(org, True, owner, None)
    db.session.commit()
    member = make_member(org, make_user("late@example.com"))
    assert policy.set_require_2fa(org, False, owner, None) == []
    db.session.commit()
    assert not org.has_flag(OrgFlags.REQUIRE_2FA)
    assert db.session.get(OrganizationMember, member.id).user_id is not None


def test_existing_invite_to_the_same_address_is_replaced(org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    user = make_user("dup@example.com")
    member = make_member(org, user)
    # A stale invite row to the same address would collide on (organization, email).
    db.session.add(OrganizationMember(organization_id=org.id, email="dup@example.com", role="member"))
    db.session.commit()
    policy.set_require_2fa(org, True, owner, None)
    db.session.commit()
    rows = db.session.scalars(
        select(OrganizationMember).where(OrganizationMember.email == "dup@example.com")
    ).all()
    assert [r.id for r in rows] == [member.id]


# --- the owner's page -----------------------------------------------------------------------------


def test_page_is_owner_only(client, org_and_owner):
    org, _owner = org_and_owner
    make_member(org, make_user("mgr@example.com"), role="manager")
    login(client, "mgr@example.com")
    assert client.get(f"/organizations/{org.slug}/settings/security/").status_code == 403
    assert (
        client.post(f"/organizations/{org.slug}/settings/security/", data={"require2FA": "y"}).status_code
        == 403
    )
    assert not org.has_flag(OrgFlags.REQUIRE_2FA)


def test_page_shows_the_spec_message(client, org_and_owner):
    org, _ = org_and_owner
    login(client, "owner@example.com")
    page = client.get(f"/organizations/{org.slug}/settings/security/")
    assert page.status_code == 200 and 'id="require-2fa-form"' in page.get_data(as_text=True)
    resp = client.post(f"/organizations/{org.slug}/settings/security/", data={"require2FA": "y"})
    assert resp.status_code == 422
    assert policy.NEEDS_PERSONAL_2FA in resp.get_data(as_text=True)


def test_page_turns_it_on(app, client, org_and_owner):
    org, owner = org_and_owner
    enroll(owner)
    make_member(org, make_user("lax@example.com"))
    _sign_in_2fa(client, "owner@example.com")
    resp = client.post(f"/organizations/{org.slug}/settings/security/", data={"require2FA": "y"})
    assert resp.status_code == 303
    db.session.expire_all()
    assert org.has_flag(OrgFlags.REQUIRE_2FA)
    assert "1 member(s)" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert len(mails_to(app, "lax@example.com")) == 1
    off = client.post(f"/organizations/{org.slug}/settings/security/", data={})
    assert off.status_code == 303
    db.session.expire_all()
    assert not org.has_flag(OrgFlags.REQUIRE_2FA)


# --- members without two-factor are sent to enroll ------------------------------------------------


def test_member_without_2fa_is_sent_to_enroll_then_back(client, org_and_owner):
    org, owner = org_and_owner
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    make_member(org, make_user("new@example.com"))  # e.g. removed their 2FA after the policy was set
    login(client, "new@example.com")
    resp = client.get(f"/organizations/{org.slug}/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/settings/security/"
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert "The Secure Co organization requires two-factor authentication" in page
    secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', page).group(1)
    done = client.post("/account/settings/security/", data={"otp": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    assert f'href="/organizations/{org.slug}/"' in done.get_data(as_text=True)  # the Continue link
    assert client.get(f"/organizations/{org.slug}/").status_code == 200


def test_gate_also_applies_to_htmx(client, org_and_owner):
    org, _ = org_and_owner
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    make_member(org, make_user("new@example.com"))
    login(client, "new@example.com")
    resp = client.get(f"/organizations/{org.slug}/", headers={"HX-Request": "true"})
    assert resp.headers["HX-Redirect"] == "/account/settings/security/"


def test_members_of_other_orgs_are_not_gated(client, org_and_owner):
    org, _ = org_and_owner
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    other = make_org("Relaxed", slug="relaxed")
    user = make_user("both@example.com")
    make_member(org, user)
    make_member(other, user)
    login(client, "both@example.com")
    assert client.get("/organizations/relaxed/").status_code == 200
    assert client.get(f"/organizations/{org.slug}/").status_code == 303


def test_cannot_turn_off_2fa_while_an_org_requires_it(client, org_and_owner):
    from onboarding.twofactor import service as tf
    from tests.factories import PASSWORD

    org, owner = org_and_owner
    enroll(owner)
    policy.set_require_2fa(org, True, owner, None)
    db.session.commit()
    _sign_in_2fa(client, "owner@example.com")
    resp = client.post("/account/settings/security/remove/", data={"password": PASSWORD})
    assert resp.status_code == 403
    assert "it is required by Secure Co" in resp.get_data(as_text=True)
    assert tf.user_has_2fa(owner.id)
    policy.set_require_2fa(org, False, owner, None)
    db.session.commit()
    assert client.post("/account/settings/security/remove/", data={"password": PASSWORD}).status_code == 303
    assert not tf.user_has_2fa(owner.id)
