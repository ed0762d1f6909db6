"""The invite journey's seams: switching account, a sign-in page opened mid-two-factor, and the one role
rule for every action on an invite (bugs 2, 3 and 4 of the invite-journey issue)."""

from __future__ import annotations

import pytest

from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from tests.factories import PASSWORD, login, make_invite, make_member, make_org, make_user
from tests.twofactor_helpers import code, enroll


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def path(member, raw):
    return f"/accept/{member.id}/{raw}/"


# --- bug 2: "Sign out and continue" keeps the invite ------------------------------------------------


def test_sign_out_and_continue_keeps_the_invite_for_a_new_account(app, client, org):
    app.config["ALLOW_REGISTRATION"] = False
    make_member(org, make_user("other@example.com"))
    member, raw = make_invite(org, "newcomer@example.com")
    login(client, "other@example.com")
    assert client.get(path(member, raw)).status_code == 403  # sent to another address
    out = client.post("/auth/logout/", data={"next": path(member, raw)})
    assert out.status_code == 303

    page = client.get("/auth/register/").get_data(as_text=True)
    assert "newcomer@example.com" in page and 'id="register-form"' in page
    assert "registration is closed" not in page.lower()
    resp = client.post(
        "/auth/register/",
        data={"op": "register", "name": "New", "username": "newcomer@example.com", "password": PASSWORD},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).user_id is not None


def test_plain_sign_out_does_not_keep_an_invite(app, client, org):
    app.config["ALLOW_REGISTRATION"] = False
    make_user("other@example.com")
    member, raw = make_invite(org, "newcomer@example.com")
    login(client, "other@example.com")
    client.get(path(member, raw))
    client.post("/auth/logout/")
    with client.session_transaction() as sess:
        assert "invite_member_id" not in sess and "can_register" not in sess


# --- bug 3: the sign-in page opened in the middle of a two-factor sign-in ----------------------------


def test_sign_in_page_mid_two_factor_keeps_the_half_finished_sign_in(client, org):
    user = make_user("two@example.com")
    make_member(org, user)
    enroll(user)
    member, raw = make_invite(make_org("Beta", slug="beta"), "two@example.com")
    client.get(path(member, raw))
    assert login(client, "two@example.com").headers["Location"] == "/auth/2fa/"

    page = client.get("/auth/login/")
    assert page.status_code == 200
    assert 'id="second-step-pending"' in page.get_data(as_text=True)
    challenge = client.get("/auth/2fa/")
    assert challenge.status_code == 200  # not "Your sign-in has expired"
    done = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert done.status_code == 303 and done.headers["Location"] == "/organizations/beta/"  # invite kept
    assert "expired" not in client.get(done.headers["Location"]).get_data(as_text=True).lower()


def test_second_step_page_without_a_sign_in_does_not_say_expired(client, org):
    resp = client.get("/auth/2fa/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"
    assert "expired" not in client.get("/auth/login/").get_data(as_text=True).lower()


# --- bug 4: one role rule for every action on an invite -----------------------------------------------


@pytest.fixture
def manager(client, org):
    user = make_user("mgr@example.com")
    make_member(org, user, role="manager")
    login(client, "mgr@example.com")
    return user


def test_manager_may_not_revoke_or_resend_an_owner_invite_by_api(client, org, manager):
    member, _ = make_invite(org, "boss@example.com", role="owner")
    url = f"/api/0/organizations/acme/members/{member.id}/"
    assert client.delete(url).status_code == 403
    assert client.put(url, json={"reinvite": True}).status_code == 403
    db.session.expire_all()
    kept = db.session.get(OrganizationMember, member.id)
    assert kept is not None and kept.invite_email_id is None  # nothing sent


@pytest.mark.parametrize("action", ["resend", "revoke", "link"])
def test_manager_may_not_act_on_an_owner_invite_by_page(client, org, manager, action):
    member, _ = make_invite(org, "boss@example.com", role="owner")
    resp = client.post(f"/organizations/acme/members/{member.id}/{action}/")
    assert resp.status_code == 403
    assert "with the role owner" in resp.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id) is not None


@pytest.mark.parametrize("action", ["approve", "reject"])
def test_manager_may_not_approve_or_reject_an_owner_request(client, org, manager, action):
    member, _ = make_invite(org, "boss@example.com", role="owner", status=1)
    resp = client.post(f"/organizations/acme/members/{member.id}/{action}/")
    assert resp.status_code == 403
    db.session.expire_all()
    row = db.session.get(OrganizationMember, member.id)
    assert row is not None and row.invite_status == 1


def test_manager_may_still_act_on_a_manager_invite(client, org, manager):
    member, _ = make_invite(org, "peer@example.com", role="manager")
    assert client.delete(f"/api/0/organizations/acme/members/{member.id}/").status_code == 204


def test_owner_may_revoke_an_owner_invite(client, org):
    make_member(org, make_user("own@example.com"), role="owner")
    login(client, "own@example.com")
    member, _ = make_invite(org, "boss@example.com", role="owner")
    assert client.delete(f"/api/0/organizations/acme/members/{member.id}/").status_code == 204
