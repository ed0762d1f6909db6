"""The account page: name, email change, password change, sessions; each audited."""

from __future__ import annotations

import pytest

from onboarding.accounts.models import User, UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from tests.factories import PASSWORD, default_org, login, make_member, make_user
from tests.selfservice_helpers import Mailbox, mailbox_fixture  # noqa: F401

URL = "/account/settings/"
HX = {"HX-Request": "true"}


@pytest.fixture
def user():
    u = make_user("a@example.com", name="Alice")
    make_member(default_org(), u)
    return u


@pytest.fixture
def browser(app, user):
    c = app.test_client()
    assert login(c, "a@example.com").status_code == 303
    return c


def _events(name):
    return db.session.query(AuditLogEntry).filter_by(event=name).all()


def test_requires_sign_in(client):
    resp = client.get(URL)
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/auth/login/")


def test_page_has_each_form(browser):
    page = browser.get(URL).get_data(as_text=True)
    for form_id in ("profile-form", "email-form", "password-form", "sessions"):
        assert f'id="{form_id}"' in page
    assert "(this browser)" in page


def test_unknown_op_is_400(browser):
    assert browser.post(URL, data={"op": "nope"}).status_code == 400


def test_change_name(browser, user):
    resp = browser.post(URL, data={"op": "profile", "name": "  Alicia  "})
    assert resp.status_code == 303 and resp.headers["Location"] == URL
    assert db.session.get(User, user.id).name == "Alicia"
    [entry] = _events("user.edit")
    assert entry.data["name"] == "Alicia" and entry.actor_id == user.id


def test_change_name_errors(browser):
    resp = browser.post(URL, data={"op": "profile", "name": ""})
    assert resp.status_code == 422 and b"Enter your name." in resp.get_data()
    resp = browser.post(URL, data={"op": "profile", "name": "x" * 101}, headers=HX)
    assert (
        resp.status_code == 422
        and b'id="profile-form"' in resp.get_data()
        and b"<html" not in resp.get_data()
    )
    assert "HX-Request" in resp.vary


def test_change_email_needs_password_and_confirmation(app, browser, user, mailbox):
    resp = browser.post(URL, data={"op": "email", "email": "new@example.com", "password": "wrong password"})
    assert resp.status_code == 422 and b"The password is incorrect." in resp.get_data()
    assert mailbox.messages() == []

    resp = browser.post(URL, data={"op": "email", "email": "New@Example.com", "password": PASSWORD})
    assert resp.status_code == 303
    assert db.session.get(User, user.id).email == "a@example.com"  # not yet
    notice = mailbox.to("a@example.com")
    assert len(notice) == 1 and "new@example.com" in Mailbox.text(notice[0])
    link = mailbox.link("new@example.com", "/account/change-email/")
    page = browser.get(link)
    assert page.status_code == 200 and b'id="change-email-form"' in page.get_data()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert browser.post(link).status_code == 303
    db.session.expire_all()
    assert db.session.get(User, user.id).email == "new@example.com"
    assert login(app.test_client(), "new@example.com").status_code == 303
    assert login(app.test_client(), "a@example.com").status_code == 422
    assert browser.post(link).status_code == 404  # single use
    assert len(_events("user.email.change-request")) == 1
    [change] = _events("user.email.change")
    assert change.data == {"old_email": "a@example.com", "new_email": "new@example.com"}
    page = browser.get(URL).get_data(as_text=True)
    assert 'id="email-verified"' in page


def test_change_email_refuses_taken_and_same_address(browser):
    make_user("b@example.com")
    resp = browser.post(URL, data={"op": "email", "email": "b@example.com", "password": PASSWORD})
    assert resp.status_code == 422 and b"An account is already registered" in resp.get_data()
    resp = browser.post(URL, data={"op": "email", "email": "a@example.com", "password": PASSWORD})
    assert resp.status_code == 422 and b"already your email address" in resp.get_data()
    resp = browser.post(URL, data={"op": "email", "email": "nope", "password": PASSWORD})
    assert resp.status_code == 422 and b"Enter a valid email address." in resp.get_data()


def test_email_taken_between_request_and_confirmation(browser, mailbox):
    assert (
        browser.post(URL, data={"op": "email", "email": "new@example.com", "password": PASSWORD}).status_code
        == 303
    )
    link = mailbox.link("new@example.com", "/account/change-email/")
    make_user("new@example.com")
    resp = browser.post(link)
    assert resp.status_code == 409 and b"An account is already registered" in resp.get_data()


def test_password_reentry_is_throttled(browser, app):
    for _ in range(app.config["LOGIN_FAILURES_PER_EMAIL"]):
        browser.post(
            URL, data={"op": "password", "old_password": "wrong", "new_password": "another long one"}
        )
    resp = browser.post(
        URL, data={"op": "password", "old_password": PASSWORD, "new_password": "another long one"}
    )
    assert resp.status_code == 429 and b"too many attempts" in resp.get_data()


def test_change_password_ends_other_sessions_keeps_this_one(app, browser, user):
    phone = app.test_client()
    assert login(phone, "a@example.com").status_code == 303
    home = f"/organizations/{default_org().slug}/"
    resp = browser.post(
        URL, data={"op": "password", "old_password": "wrong", "new_password": "another long one"}
    )
    assert resp.status_code == 422 and b"The password is incorrect." in resp.get_data()
    resp = browser.post(URL, data={"op": "password", "old_password": PASSWORD, "new_password": "short"})
    assert resp.status_code == 422 and b"too short" in resp.get_data()
    resp = browser.post(URL, data={"op": "password", "old_password": PASSWORD, "new_password": PASSWORD})
    assert resp.status_code == 422 and b"must differ" in resp.get_data()
    resp = browser.post(
        URL, data={"op": "password", "old_password": PASSWORD, "new_password": "another long one"}
    )
    assert resp.status_code == 303
    assert browser.get(home).status_code == 200
    assert phone.get(home).status_code == 302
    assert login(app.test_client(), "a@example.com", "another long one").status_code == 303
    [entry] = _events("user.password.change")
    assert entry.data["sessions_ended"] == 1
    assert "another long one" not in str(entry.data)


def test_sessions_list_and_end_one(app, browser, user):
    phone = app.test_client()
    login(
        phone, "a@example.com", headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/605"}
    )
    page = browser.get(URL).get_data(as_text=True)
    assert "Safari on iOS" in page and "127.0.0.1" in page
    other = db.session.query(UserSession).order_by(UserSession.id.desc()).first()
    resp = browser.post(URL, data={"op": "end-session", "session_id": str(other.id)}, headers=HX)
    assert resp.status_code == 200 and resp.get_data() == b""  # htmx removes the row
    assert phone.get(f"/organizations/{default_org().slug}/").status_code == 302
    assert len(_events("user.session.end")) == 1
    # Plain form: 303 back to the page; an already-ended session is not an error.
    resp = browser.post(URL, data={"op": "end-session", "session_id": str(other.id)})
    assert resp.status_code == 303


def test_cannot_end_someone_elses_or_this_session(app, browser, user):
    bob = make_user("b@example.com")
    make_member(default_org(), bob)
    login(app.test_client(), "b@example.com")
    bobs = db.session.query(UserSession).filter_by(user_id=bob.id).one()
    browser.post(URL, data={"op": "end-session", "session_id": str(bobs.id)})
    assert db.session.query(UserSession).filter_by(user_id=bob.id).count() == 1
    mine = db.session.query(UserSession).filter_by(user_id=user.id).one()
    resp = browser.post(URL, data={"op": "end-session", "session_id": str(mine.id)})
    assert resp.status_code == 400 and b"Sign out" in resp.get_data()
    assert browser.post(URL, data={"op": "end-session", "session_id": "x"}).status_code == 400


def test_end_all_other_sessions(app, browser, user):
    others = [app.test_client() for _ in range(2)]
    for c in others:
        login(c, "a@example.com")
    resp = browser.post(URL, data={"op": "end-other-sessions"}, headers=HX)
    assert resp.status_code == 200 and b'id="sessions"' in resp.get_data() and b"<html" not in resp.get_data()
    assert db.session.query(UserSession).filter_by(user_id=user.id).count() == 1
    assert all(c.get(URL).status_code == 302 for c in others)
    assert browser.get(URL).status_code == 200
    assert _events("user.session.end-others")[0].data["sessions_ended"] == 2
    assert browser.post(URL, data={"op": "end-other-sessions"}).status_code == 303


def test_settings_forms_check_csrf(app, user):
    app.config["WTF_CSRF_ENABLED"] = True
    c = app.test_client()
    page = c.get("/auth/login/").get_data(as_text=True)
    from tests.conftest import csrf_from

    token = csrf_from(page)
    assert (
        c.post(
            "/auth/login/",
            data={"op": "login", "username": "a@example.com", "password": PASSWORD, "csrf_token": token},
        ).status_code
        == 303
    )
    assert c.post(URL, data={"op": "profile", "name": "Mallory"}).status_code == 400
    assert db.session.get(User, user.id).name == "Alice"
    # The fixture's app context outlives requests, so Flask-WTF's per-request cache in `g` would hand
    # out the token of the session before sign-in; a real server has a fresh `g` per request.
    from flask import g

    g.pop("csrf_token", None)
    token = csrf_from(c.get(URL).get_data(as_text=True))
    r = c.post(URL, data={"op": "profile", "name": "Alicia", "csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)


def test_nav_links_to_the_account_page(browser):
    page = browser.get(f"/organizations/{default_org().slug}/").get_data(as_text=True)
    assert 'id="nav-account"' in page and 'href="/account/settings/"' in page
