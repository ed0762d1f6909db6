"""The organization API of an organization that requires two-factor: members without it get 401 (spec §3)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, OrgFlags
from tests.factories import login, make_member, make_org, make_user
from tests.twofactor_helpers import code, enroll

MESSAGE = "Organization requires two-factor authentication to be enabled"

ENDPOINTS = [
    ("GET", "/api/0/organizations/secure/members/", None),
    ("POST", "/api/0/organizations/secure/members/", {"email": "x@example.com", "role": "member"}),
    ("GET", "/api/0/organizations/secure/members/{member_id}/", None),
    ("PUT", "/api/0/organizations/secure/members/{member_id}/", {"reinvite": True}),
    ("DELETE", "/api/0/organizations/secure/members/{member_id}/", None),
    ("GET", "/api/0/organizations/secure/audit-logs/", None),
]


@pytest.fixture
def secure(app):
    org = make_org("Secure Co", slug="secure")
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    # e.g. added by an administrator after the requirement was set, without two-factor
    manager = make_user("lax@example.com")
    member = make_member(org, manager, role="manager")
    return org, manager, member


@pytest.mark.parametrize(("method", "url", "body"), ENDPOINTS, ids=[f"{m} {u}" for m, u, _ in ENDPOINTS])
def test_member_without_2fa_gets_401_and_nothing_changes(client, secure, method, url, body):
    org, _manager, member = secure
    login(client, "lax@example.com")
    resp = client.open(url.format(member_id=member.id), method=method, json=body)
    assert resp.status_code == 401
    assert resp.get_json() == {"detail": MESSAGE}
    db.session.expire_all()
    rows = db.session.scalars(select(OrganizationMember).where(OrganizationMember.organization_id == org.id))
    assert [(m.id, m.user_id) for m in rows] == [(member.id, member.user_id)]  # no invite, no removal


def test_same_member_with_2fa_gets_through(client, secure):
    _org, manager, member = secure
    enroll(manager)
    login(client, "lax@example.com")
    assert client.post("/auth/2fa/", data={"otp": code(steps=1)}).status_code == 303
    listed = client.get("/api/0/organizations/secure/members/")
    assert listed.status_code == 200
    assert [m["email"] for m in listed.get_json()] == ["lax@example.com"]
    assert client.get(f"/api/0/organizations/secure/members/{member.id}/").status_code == 200


def test_other_orgs_and_outsiders_are_unaffected(client, secure):
    other = make_org("Relaxed", slug="relaxed")
    make_member(other, make_user("lax2@example.com"))
    make_member(other, db.session.get(type(secure[1]), secure[1].id))
    login(client, "lax@example.com")
    assert client.get("/api/0/organizations/relaxed/members/").status_code == 200
    client.post("/auth/logout/")
    # A non-member still gets 404 (the slug is not confirmed), and no credentials still 401 as before.
    make_user("stranger@example.com")
    login(client, "stranger@example.com")
    assert client.get("/api/0/organizations/secure/members/").status_code == 404
    client.post("/auth/logout/")
    anonymous = client.get("/api/0/organizations/secure/members/")
    assert anonymous.status_code == 401 and anonymous.get_json()["detail"] != MESSAGE


def test_superuser_who_is_not_a_member_is_not_subject_to_the_policy(client, secure):
    make_user("root@example.com", superuser=True)
    login(client, "root@example.com")
    assert client.get("/api/0/organizations/secure/members/").status_code == 200
