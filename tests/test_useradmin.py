"""User administration for superusers at /manage/users/ (issue 7 item 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User, UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from tests.factories import default_org, login, make_member, make_user


@pytest.fixture
def admin(app, client):
    user = make_user("root@example.com", superuser=True)
    make_member(default_org(), user, role="owner")
    assert login(client, "root@example.com").status_code == 303
    return user


def _events():
    db.session.rollback()
    return [e.event for e in db.session.scalars(select(AuditLogEntry).order_by(AuditLogEntry.id))]


def test_only_superusers(app, client):
    make_user("plain@example.com")
    login(client, "plain@example.com")
    assert client.get("/manage/users/").status_code == 403
    assert client.post("/manage/users/1/disable/").status_code == 403
    client.post("/auth/logout/")
    assert client.get("/manage/users/").status_code == 302  # to sign in


def test_search_and_memberships(client, admin):
    alice = make_user("alice@example.com", name="Alice Liddell")
    make_member(default_org(), alice, role="manager")
    make_user("bob@example.com", name="Bob")
    page = client.get("/manage/users/?q=ALICE").get_data(as_text=True)
    assert "alice@example.com" in page and "bob@example.com" not in page
    assert "Default" in page and "(manager)" in page
    by_name = client.get("/manage/users/?q=liddell").get_data(as_text=True)
    assert "alice@example.com" in by_name
    fragment = client.get("/manage/users/?q=bob", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "<html" not in fragment and "bob@example.com" in fragment


def test_disable_ends_sessions_and_blocks_sign_in(app, client, admin):
    victim = make_user("victim@example.com")
    make_member(default_org(), victim)
    other_browser = app.test_client()
    login(other_browser, "victim@example.com")
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == victim.id)) is not None
    resp = client.post(f"/manage/users/{victim.id}/disable/")
    assert resp.status_code == 303
    assert db.session.scalar(select(UserSession).where(UserSession.user_id == victim.id)) is None
    assert other_browser.get(f"/organizations/{default_org().slug}/").status_code == 302
    refused = login(app.test_client(), "victim@example.com")
    assert refused.status_code == 403 and "This account has been disabled" in refused.get_data(as_text=True)
    assert client.post(f"/manage/users/{victim.id}/enable/").status_code == 303
    assert login(app.test_client(), "victim@example.com").status_code == 303
    events = _events()
    assert events.index("user.disable") < events.index("user.enable")


def test_superuser_grant_and_revoke(client, admin):
    user = make_user("helper@example.com")
    resp = client.post(f"/manage/users/{user.id}/superuser/grant/", headers={"HX-Request": "true"})
    assert resp.status_code == 200 and "superuser" in resp.get_data(as_text=True)
    db.session.rollback()
    assert db.session.get(User, user.id).is_superuser
    client.post(f"/manage/users/{user.id}/superuser/revoke/")
    db.session.rollback()
    assert not db.session.get(User, user.id).is_superuser
    assert _events()[-2:] == ["user.superuser.grant", "user.superuser.revoke"]


def test_cannot_lock_yourself_out(client, admin):
    resp = client.post(f"/manage/users/{admin.id}/disable/", headers={"HX-Request": "true"})
    assert resp.status_code == 409 and "cannot disable your own account" in resp.get_data(as_text=True)
    resp = client.post(f"/manage/users/{admin.id}/superuser/revoke/")
    assert resp.status_code == 303
    db.session.rollback()
    me = db.session.get(User, admin.id)
    assert me.is_active_flag and me.is_superuser
    assert "user.disable" not in _events()


def test_unknown_user_404(client, admin):
    assert client.post("/manage/users/999999/disable/").status_code == 404
