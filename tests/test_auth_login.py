"""Sign-in page: GET branches (spec §1.1) and the login POST (spec §1.2, §1.2.2) as the contract keeps them."""

from __future__ import annotations

from unittest import mock

import pytest

from onboarding.accounts.models import User, UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from tests.factories import PASSWORD, comparable, default_org, login, make_member, make_org, make_user


def test_get_renders_login_and_sso_forms(client):
    resp = client.get("/auth/login/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="login-form"' in html and 'id="sso-form"' in html
    assert 'id="register-form"' not in html  # registration closed by default
    assert 'name="csrf-token"' in html
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/auth/register/", "/auth/login/?op=register"])
def test_register_page_explains_when_closed(client, path):
    resp = client.get(path)
    assert resp.status_code == 200
    if path == "/auth/register/":
        assert "Registration is closed" in resp.get_data(as_text=True)


def test_register_form_shown_when_open(app, client):
    app.config["ALLOW_REGISTRATION"] = True
    html = client.get("/auth/register/").get_data(as_text=True)
    assert 'id="register-form"' in html and 'name="name"' in html


def test_sso_tab(client):
    html = client.get("/auth/login/?op=sso").get_data(as_text=True)
    assert (
        '<section id="tab-sso" aria-label="Single Sign-On" >' in html
        or 'id="tab-sso" aria-label="Single Sign-On" >' in html
    )


def test_authenticated_get_redirects_to_org(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    login(client, "a@example.com")
    resp = client.get("/auth/login/")
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/organizations/{default_org().slug}/"


def test_authenticated_get_follows_safe_next_only(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    login(client, "a@example.com")
    assert client.get("/auth/login/?next=/organizations/x/").headers["Location"] == "/organizations/x/"
    assert (
        client.get("/auth/login/?next=//evil.com/").headers["Location"]
        == f"/organizations/{default_org().slug}/"
    )


def test_session_expired_cookie_shows_message_and_is_deleted(client):
    client.set_cookie("session_expired", "1")
    resp = client.get("/auth/login/")
    assert "Your session has expired." in resp.get_data(as_text=True)
    assert any("session_expired=;" in h for h in resp.headers.getlist("Set-Cookie"))


def test_unknown_op_is_400(client):
    assert client.post("/auth/login/", data={"op": "alert('hackerman')"}).status_code == 400
    assert client.post("/auth/login/", data={}).status_code == 400


def test_login_success_lands_in_org_and_records_session(client):
    user = make_user("Person@Example.com")
    make_member(default_org(), user)
    resp = login(client, "  PERSON@example.COM ")
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/organizations/{default_org().slug}/"
    assert db.session.query(UserSession).filter_by(user_id=user.id).count() == 1
    assert db.session.get(User, user.id).last_login is not None
    events = [e.event for e in db.session.query(AuditLogEntry).all()]
    assert "user.login.success" in events


def test_login_htmx_success_uses_hx_redirect(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    resp = login(client, "a@example.com", headers={"HX-Request": "true"})
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == f"/organizations/{default_org().slug}/"
    assert "HX-Request" in resp.vary


def test_wrong_password_and_unknown_email_answer_the_same(client):
    make_user("a@example.com")
    wrong = login(client, "a@example.com", "wrong password!")
    unknown = login(client, "nobody@example.com", "wrong password!")
    assert wrong.status_code == unknown.status_code == 422
    # the same page, but for the address typed back into the field (and the CSRF token's signing time)
    assert comparable(wrong, replace="a@example.com") == comparable(unknown, replace="nobody@example.com")
    assert "Please enter a correct email and password" in wrong.get_data(as_text=True)


def test_unknown_email_still_hashes(client):
    from onboarding.accounts.service import authenticate

    with (
        mock.patch("onboarding.passwords.PasswordHasher.verify", side_effect=Exception("hashed")) as verify,
        pytest.raises(Exception, match="hashed"),
    ):
        authenticate("nobody@example.com", "whatever")
    assert verify.called


def test_failed_login_htmx_gets_fragment(client):
    resp = login(client, "nobody@example.com", "x", headers={"HX-Request": "true"})
    assert resp.status_code == 422
    body = resp.get_data(as_text=True)
    assert "<html" not in body and 'id="login-form"' in body


def test_missing_fields_generic_error(client):
    resp = client.post("/auth/login/", data={"op": "login", "username": "a@example.com"})
    assert resp.status_code == 422
    assert "Please enter a correct email and password" in resp.get_data(as_text=True)


def test_throttle_per_email_before_hashing(client):
    make_user("a@example.com")
    for _ in range(5):
        assert login(client, "a@example.com", "bad password 1").status_code == 422
    with mock.patch("onboarding.passwords.PasswordHasher.verify") as verify:
        resp = login(client, "A@example.com ", PASSWORD)  # right password, normalised email
    assert resp.status_code == 429
    assert not verify.called
    assert "You have made too many login attempts. Please try again later." in resp.get_data(as_text=True)
    assert int(resp.headers["Retry-After"]) > 0


def test_successful_logins_do_not_count(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    for _ in range(7):
        client.post("/auth/logout/")
        assert login(client, "a@example.com").status_code == 303


def test_throttle_per_ip(app, client):
    app.config["LOGIN_FAILURES_PER_IP"] = 3
    for i in range(3):
        login(client, f"user{i}@example.com", "bad")
    resp = login(client, "other@example.com", "bad")
    assert resp.status_code == 429


def test_sign_in_page_views_are_limited_per_ip_and_second(app, client, ratelimit_clock):
    """Spec §1.1: GET of the sign-in page is limited to 20 a second per client IP (the default)."""
    from onboarding.config import DEFAULTS

    app.config["LOGIN_PAGE_VIEWS_PER_SECOND"] = DEFAULTS["LOGIN_PAGE_VIEWS_PER_SECOND"]
    assert DEFAULTS["LOGIN_PAGE_VIEWS_PER_SECOND"] == 20
    other_ip = {"REMOTE_ADDR": "203.0.113.7"}
    for _ in range(20):
        assert client.get("/auth/login/").status_code == 200
    resp = client.get("/auth/login/")
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "1"
    assert "too many requests" in resp.get_data(as_text=True).lower()
    assert client.get("/auth/login/", environ_base=other_ip).status_code == 200
    ratelimit_clock[0] += 1  # the next second starts a new window
    assert client.get("/auth/login/").status_code == 200


def test_throttle_works_with_redis_down(app, client):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    user = make_user("a@example.com")
    make_member(default_org(), user)
    for _ in range(5):
        assert login(client, "a@example.com", "bad password 1").status_code == 422
    assert login(client, "a@example.com").status_code == 429
    # and a different account still signs in
    other = make_user("b@example.com")
    make_member(default_org(), other)
    assert login(client, "b@example.com").status_code == 303


def test_disabled_account_is_told_after_right_password_only(client):
    make_user("off@example.com", active=False)
    assert "disabled" not in login(client, "off@example.com", "wrong one!").get_data(as_text=True)
    resp = login(client, "off@example.com")
    assert resp.status_code == 403
    assert "This account has been disabled" in resp.get_data(as_text=True)
    assert client.get("/organizations/").status_code == 302  # not signed in


def test_each_sign_in_gets_a_new_session(client, app):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    login(client, "a@example.com")
    first = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    client.post("/auth/logout/")
    login(client, "a@example.com")
    second = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert first != second


def test_login_keeps_pending_invite_and_drops_other_session_data(client):
    from tests.factories import make_invite

    user = make_user("a@example.com")
    make_member(default_org(), user)
    invite, raw = make_invite(default_org(), "someone.else@example.com")  # not a's: it waits
    with client.session_transaction() as sess:
        sess["invite_member_id"] = invite.id
        sess["invite_token"] = raw
        sess["junk"] = "x"
    resp = login(client, "a@example.com")
    assert resp.headers["Location"] == f"/accept/{invite.id}/{raw}/"  # the page says whose it is
    with client.session_transaction() as sess:
        assert sess["invite_member_id"] == invite.id and "junk" not in sess


NEXT_PAYLOADS = [
    "//evil.com",
    "\\\\evil.com",
    "/\\evil.com",
    "/a/../\\evil.com",
    "\t//evil.com",
    "https://evil.com\\.onboarding.test",
    "https://user:pw@evil.com",
    "https://evil.com/",
    "javascript:alert(1)",
    "/auth/login/",
]


@pytest.mark.parametrize("payload", NEXT_PAYLOADS)
def test_next_payloads_are_refused(client, payload):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    client.get("/auth/login/", query_string={"next": payload})
    resp = login(client, "a@example.com")
    assert resp.headers["Location"] == f"/organizations/{default_org().slug}/"


def test_next_same_site_is_followed(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    client.get("/auth/login/?next=/organizations/x/?tab=2")
    assert login(client, "a@example.com").headers["Location"] == "/organizations/x/?tab=2"


def test_no_org_single_mode_lands_on_403_page(client):
    make_user("lonely@example.com")
    resp = login(client, "lonely@example.com")
    assert resp.headers["Location"] == "/organizations/"
    page = client.get("/organizations/")
    assert page.status_code == 403
    assert "any organization" in page.get_data(as_text=True)


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": False}])
def test_no_org_multi_mode_lands_on_new(client, settings):
    make_user("lonely@example.com")
    assert login(client, "lonely@example.com").headers["Location"] == "/organizations/new/"


def test_active_org_is_remembered(client):
    user = make_user("a@example.com")
    make_member(default_org(), user)
    other = make_org("Second Org")
    make_member(other, user)
    login(client, "a@example.com")
    client.get(f"/organizations/{other.slug}/")
    client.post("/auth/logout/")
    # activeorg is dropped at sign-out; a sign-in through the org page sets it again
    resp = client.post(
        f"/auth/login/{other.slug}/", data={"op": "login", "username": "a@example.com", "password": PASSWORD}
    )
    assert resp.headers["Location"] == f"/organizations/{other.slug}/"


def test_org_login_page_404_for_unknown_org(client):
    assert client.get("/auth/login/no-such-org/").status_code == 404


def test_sso_without_provider(client):
    make_org("Plain", slug="plain")
    for slug in ("plain", "missing"):
        resp = client.post("/auth/login/", data={"op": "sso", "organization": slug})
        assert resp.status_code == 422
        assert "The organization does not exist or does not have Single Sign-On enabled." in resp.get_data(
            as_text=True
        )


def test_sso_with_provider_redirects_to_org_login(client):
    from tests.factories import make_provider

    org = make_org("Acme", slug="acme")
    make_provider(org)
    resp = client.post("/auth/login/?next=/x/&empty=", data={"op": "sso", "organization": "ACME"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/auth/login/acme/?next=/x/"


def test_sso_empty_organization(client):
    resp = client.post("/auth/login/", data={"op": "sso", "organization": ""})
    assert resp.status_code == 422
    assert "Enter your organization" in resp.get_data(as_text=True)


def test_failed_login_is_audited_with_ip(client):
    login(client, "x@example.com", "nope", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    entry = db.session.query(AuditLogEntry).filter_by(event="user.login.failure").one()
    assert entry.ip_address == "203.0.113.9" and entry.actor_label == "x@example.com"
    assert "nope" not in str(entry.data)


def test_repeat_views_of_the_sign_in_page_do_not_count_administrators(app, client):
    """The setup hint's count of superusers ran on every view of the busiest page; once an administrator
    exists it is remembered for a few seconds per process."""
    from sqlalchemy import event

    make_user("root@example.com", superuser=True)
    db.session.commit()
    statements: list[str] = []

    def record(_conn, _cursor, statement, *_a):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert client.get("/auth/login/").status_code == 200
        first = [s for s in statements if "is_superuser" in s]
        statements.clear()
        assert client.get("/auth/login/").status_code == 200
        again = [s for s in statements if "is_superuser" in s]
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert len(first) == 1 and again == []
