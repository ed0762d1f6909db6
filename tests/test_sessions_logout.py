"""Server-side sessions: sign-out ends exactly one session; a replayed cookie is refused."""

from __future__ import annotations

from onboarding.accounts.models import UserSession
from onboarding.extensions import db
from tests.factories import default_org, login, make_member, make_user


def _signed_in(app, email="a@example.com"):
    client = app.test_client()
    assert login(client, email).status_code == 303
    return client


def test_logout_is_post_only(client):
    assert client.get("/auth/logout/").status_code == 405


def test_logout_ends_session_and_replayed_cookie_is_refused(app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    browser = _signed_in(app)
    home = f"/organizations/{default_org().slug}/"
    assert browser.get(home).status_code == 200
    cookie = browser.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    resp = browser.post("/auth/logout/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"
    attacker = app.test_client()
    attacker.set_cookie(app.config["SESSION_COOKIE_NAME"], cookie)
    replay = attacker.get(home)
    assert replay.status_code == 302 and replay.headers["Location"].startswith("/auth/login/")


def test_logout_leaves_other_browsers_signed_in(app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    laptop, phone = _signed_in(app), _signed_in(app)
    assert db.session.query(UserSession).count() == 2
    laptop.post("/auth/logout/")
    assert db.session.query(UserSession).count() == 1
    assert phone.get(f"/organizations/{default_org().slug}/").status_code == 200


def test_disabled_user_sessions_stop_working(app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    browser = _signed_in(app)
    user.is_active_flag = False
    db.session.commit()
    assert browser.get(f"/organizations/{default_org().slug}/").status_code == 302


def test_expired_session_htmx_gets_hx_redirect_not_a_fragment(app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    browser = _signed_in(app)
    db.session.query(UserSession).delete()
    db.session.commit()
    home = f"/organizations/{default_org().slug}/"
    resp = browser.get(home, headers={"HX-Request": "true", "HX-Current-URL": f"http://localhost{home}"})
    assert resp.status_code == 401
    assert resp.headers["HX-Redirect"] == f"/auth/login/?next={home}"
    page = browser.get("/auth/login/").get_data(as_text=True)
    assert "Your session has expired." in page


def test_logout_next_is_kept_for_after_sign_in(app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    browser = _signed_in(app)
    browser.post("/auth/logout/?next=/accept/1/abc/")
    with browser.session_transaction() as sess:
        assert sess["_next"] == "/accept/1/abc/"
