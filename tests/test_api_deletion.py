"""``DELETE /api/0/users/me/`` and ``DELETE /api/0/organizations/<slug>/``: the pages' rules, in JSON."""

from __future__ import annotations

import pytest

from onboarding.accounts.models import User
from onboarding.api.openapi import document
from onboarding.extensions import db
from onboarding.orgs.models import Organization, OrgStatus
from onboarding.tokens import service as tokens
from tests.conftest import csrf_from
from tests.deletion_helpers import count
from tests.factories import PASSWORD, login, make_member, make_org, make_user


@pytest.fixture
def settings():
    return {"SINGLE_ORGANIZATION": False}


def bearer(user, *scopes):
    _, raw = tokens.create_token(user, "t", list(scopes))
    db.session.commit()
    return {"Authorization": f"Bearer {raw}"}


def test_deleting_an_account_by_token(client):
    user = make_user("a@example.com")
    auth = bearer(user, "user:write")
    resp = client.delete("/api/0/users/me/", json={"password": "wrong"}, headers=auth)
    assert resp.status_code == 400 and resp.get_json() == {"password": ["The password is incorrect."]}
    assert client.delete("/api/0/users/me/", json={}, headers=auth).status_code == 400
    assert client.delete("/api/0/users/me/", data="x", headers=auth).status_code == 400
    other = make_user("b@example.com")
    assert (
        client.delete(f"/api/0/users/{other.id}/", json={"password": PASSWORD}, headers=auth).status_code
        == 403
    )
    resp = client.delete(f"/api/0/users/{user.id}/", json={"password": PASSWORD}, headers=auth)
    assert resp.status_code == 204
    assert count(User, User.email == "a@example.com") == 0 and count(User) == 1
    assert client.get("/api/0/users/me/avatar/", headers=auth).status_code == 401


def test_sole_owner_is_409_with_the_slugs(client):
    user = make_user("a@example.com")
    make_member(make_org("Acme", slug="acme"), user, "owner")
    resp = client.delete("/api/0/users/me/", json={"password": PASSWORD}, headers=bearer(user, "user:write"))
    assert resp.status_code == 409
    body = resp.get_json()
    assert body["organizations"] == ["acme"] and "Acme" in body["detail"]
    assert count(User) == 1


def test_deleting_an_account_by_session_signs_it_out(app):
    make_user("a@example.com")
    c = app.test_client()
    login(c, "a@example.com")
    token = csrf_from(c.get("/account/settings/").get_data(as_text=True))
    resp = c.delete("/api/0/users/me/", json={"password": PASSWORD}, headers={"X-CSRFToken": token})
    assert resp.status_code == 204 and count(User) == 0
    assert c.get("/account/settings/").status_code == 302


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": False, "WTF_CSRF_ENABLED": True}])
def test_session_deletes_need_the_csrf_header(app, settings):
    make_user("a@example.com")
    c = app.test_client()
    page = c.get("/auth/login/").get_data(as_text=True)
    c.post(
        "/auth/login/",
        data={
            "op": "login",
            "username": "a@example.com",
            "password": PASSWORD,
            "csrf_token": csrf_from(page),
        },
    )
    assert c.get("/account/settings/").status_code == 200
    assert c.delete("/api/0/users/me/", json={"password": PASSWORD}).status_code in (400, 403)
    assert count(User) == 1


def test_deleting_an_organization(client, monkeypatch):
    from onboarding.deletion import service as deletion

    monkeypatch.setattr(deletion, "queue_after_commit", lambda *a: None)  # keep it pending for the check
    owner, manager = make_user("o@example.com"), make_user("m@example.com")
    org = make_org("Acme", slug="acme")
    make_member(org, owner, "owner")
    make_member(org, manager, "manager")
    assert (
        client.delete("/api/0/organizations/acme/", headers=bearer(manager, "org:admin")).status_code == 403
    )
    assert client.delete("/api/0/organizations/acme/", headers=bearer(owner, "org:write")).status_code == 403
    assert client.delete("/api/0/organizations/nope/", headers=bearer(owner, "org:admin")).status_code == 404
    auth = bearer(owner, "org:admin")
    resp = client.delete("/api/0/organizations/acme/", headers=auth)
    assert resp.status_code == 202
    assert resp.get_json()["slug"] == "acme" and resp.get_json()["status"]["id"] == "pending_deletion"
    assert db.session.get(Organization, org.id).status == OrgStatus.PENDING_DELETION
    assert client.get("/api/0/organizations/acme/", headers=auth).status_code == 404
    assert client.delete("/api/0/organizations/acme/", headers=auth).status_code == 404


def test_org_admin_tokens_may_read_and_write_too():
    assert tokens.effective_scopes(["org:admin"]) == {"org:admin", "org:write", "org:read"}


def test_both_are_documented(app):
    paths = document()["paths"]
    assert "delete" in paths["/api/0/users/{user_ref}/"]
    assert "delete" in paths["/api/0/organizations/{slug}/"]
    assert "org:admin" in paths["/api/0/organizations/{slug}/"]["delete"]["description"]
