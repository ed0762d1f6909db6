"""Forgot password: no enumeration, single-use links bound to the password, sessions end, throttles."""

from __future__ import annotations

import logging
from datetime import timedelta

from onboarding.accounts.models import User, UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.selfservice.models import AccountToken
from tests.factories import PASSWORD, comparable, default_org, login, make_member, make_user
from tests.selfservice_helpers import Mailbox, mailbox_fixture  # noqa: F401

NEW_PASSWORD = "a fresh and long passphrase"


def _user(email="a@example.com"):
    user = make_user(email)
    make_member(default_org(), user)
    return user


def _request(client, email):
    return client.post("/account/recover/", data={"email": email})


def _reset_link(client, mailbox: Mailbox, email="a@example.com") -> str:
    assert _request(client, email).status_code == 200
    return mailbox.link(email, "/account/recover/confirm/")


def test_sign_in_page_links_to_recover(client):
    page = client.get("/auth/login/").get_data(as_text=True)
    assert 'href="/account/recover/"' in page and "Forgot your password?" in page


def test_recover_page_has_form(client):
    page = client.get("/account/recover/").get_data(as_text=True)
    assert 'id="recover-form"' in page and 'name="email"' in page


def test_same_answer_for_known_and_unknown_email(client, mailbox):
    _user()
    known = _request(client, "a@example.com")
    unknown = _request(client, "nobody@example.com")
    assert known.status_code == unknown.status_code == 200
    assert comparable(known) == comparable(unknown)
    assert len(mailbox.to("a@example.com")) == 1
    assert mailbox.to("nobody@example.com") == []
    # The htmx answers match too.
    hx = {"HX-Request": "true"}
    a = client.post("/account/recover/", data={"email": "a@example.com"}, headers=hx)
    b = client.post("/account/recover/", data={"email": "nobody@example.com"}, headers=hx)
    assert a.status_code == b.status_code == 200 and comparable(a) == comparable(b)
    assert b"<html" not in a.get_data()


def test_disabled_account_gets_no_mail_and_the_same_answer(client, mailbox):
    user = _user()
    user.is_active_flag = False
    db.session.commit()
    resp = _request(client, "a@example.com")
    assert resp.status_code == 200 and b"If an account uses that address" in resp.get_data()
    assert mailbox.messages() == []


def test_bad_email_is_a_field_error(client):
    resp = _request(client, "not-an-email")
    assert resp.status_code == 422
    assert b"Enter a valid email address." in resp.get_data()


def test_only_the_token_hash_is_stored(client, mailbox):
    _user()
    link = _reset_link(client, mailbox)
    raw = link.rstrip("/").rsplit("/", 1)[1]
    assert len(raw) >= 43
    row = db.session.query(AccountToken).one()
    assert raw not in (row.token_hash, row.binding)
    assert db.session.query(AuditLogEntry).filter_by(event="user.password-reset.request").count() == 1
    assert all(raw not in str(e.data) for e in db.session.query(AuditLogEntry))


def test_reset_sets_password_ends_other_sessions_and_signs_in(app, client, mailbox):
    _user()
    other = app.test_client()
    assert login(other, "a@example.com").status_code == 303
    home = f"/organizations/{default_org().slug}/"
    assert other.get(home).status_code == 200

    link = _reset_link(client, mailbox)
    page = client.get(link)
    assert page.status_code == 200 and b'id="reset-form"' in page.get_data()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    resp = client.post(link, data={"password": NEW_PASSWORD})
    assert resp.status_code == 303 and resp.headers["Location"] == home
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(home).status_code == 200  # signed in
    assert other.get(home).status_code == 302  # the old session is refused
    assert db.session.query(UserSession).count() == 1

    fresh = app.test_client()
    assert login(fresh, "a@example.com", PASSWORD).status_code == 422
    assert login(fresh, "a@example.com", NEW_PASSWORD).status_code == 303
    assert db.session.query(AuditLogEntry).filter_by(event="user.password-reset").count() == 1


def test_token_used_twice_is_refused(client, mailbox):
    _user()
    link = _reset_link(client, mailbox)
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 303
    again = client.post(link, data={"password": "another long passphrase"})
    assert again.status_code == 404 and b"This link is not valid, or has expired." in again.get_data()
    assert client.get(link).status_code == 404


def test_expired_token_is_refused(client, mailbox):
    _user()
    link = _reset_link(client, mailbox)
    row = db.session.query(AccountToken).one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    resp = client.get(link)
    assert resp.status_code == 404 and b"This link is not valid, or has expired." in resp.get_data()
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_token_dies_when_the_password_changes(client, mailbox):
    user = _user()
    link = _reset_link(client, mailbox)
    from onboarding.accounts.service import set_password

    set_password(user, "changed elsewhere meanwhile")
    db.session.commit()
    resp = client.post(link, data={"password": NEW_PASSWORD})
    assert resp.status_code == 404
    assert db.session.get(User, user.id).password_hash is not None
    assert login(client, "a@example.com", "changed elsewhere meanwhile").status_code == 303


def test_a_second_link_dies_once_the_first_is_used(client, mailbox):
    _user()
    first = _reset_link(client, mailbox)
    second = _reset_link(client, mailbox)
    assert first != second
    assert client.post(second, data={"password": NEW_PASSWORD}).status_code == 303
    assert client.get(first).status_code == 404


def test_malformed_and_foreign_tokens_get_the_same_page(client, mailbox):
    user = _user()
    other = make_user("b@example.com")
    link = _reset_link(client, mailbox)
    raw = link.rstrip("/").rsplit("/", 1)[1]
    bad = [
        f"/account/recover/confirm/{user.id}/short/",
        f"/account/recover/confirm/{user.id}/{'x' * 5000}/",
        f"/account/recover/confirm/{user.id}/%00{raw[1:]}/",
        f"/account/recover/confirm/{user.id}/%C3%A9{raw[2:]}/",
        f"/account/recover/confirm/{other.id}/{raw}/",  # someone else's id
        f"/account/recover/confirm/abc/{raw}/",
        f"/account/recover/confirm/{user.id}/{'A' * 43}/",
    ]
    bodies = set()
    for url in bad:
        resp = client.get(url)
        assert resp.status_code == 404, url
        bodies.add(comparable(resp))  # the same page, but for the CSRF token's signing time
    assert len(bodies) == 1


def test_new_password_must_pass_the_policy(client, mailbox):
    _user()
    link = _reset_link(client, mailbox)
    resp = client.post(link, data={"password": "password"})
    assert resp.status_code == 422
    assert b"This password is too short" in resp.get_data() or b"too common" in resp.get_data()
    resp = client.post(link, data={"password": "12345678901"})
    assert resp.status_code == 422 and b"entirely numeric" in resp.get_data()
    # The link still works after a refused attempt.
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 303


def test_recover_is_throttled_per_email(client, app, mailbox):
    _user()
    limit = app.config["RECOVER_PER_EMAIL"]
    for _ in range(limit):
        assert _request(client, "A@example.com ").status_code == 200
    resp = _request(client, "a@example.com")
    assert resp.status_code == 429 and "Retry-After" in resp.headers
    assert b"too many password reset requests" in resp.get_data()
    assert len(mailbox.to("a@example.com")) == limit
    # Unknown addresses are throttled the same way (no enumeration through the limit).
    for _ in range(limit):
        _request(client, "nobody@example.com")
    assert _request(client, "nobody@example.com").status_code == 429


def test_recover_is_throttled_per_ip(client, app, settings):
    limit = app.config["RECOVER_PER_IP"]
    for i in range(limit):
        assert _request(client, f"n{i}@example.com").status_code == 200
    assert _request(client, "another@example.com").status_code == 429


def test_link_uses_base_url_not_host_header(client, mailbox):
    _user()
    # A foreign Host header is refused outright (TRUSTED_HOSTS from the base URL)…
    resp = client.post("/account/recover/", data={"email": "a@example.com"}, headers={"Host": "evil.example"})
    assert resp.status_code == 400 and not mailbox.messages()
    # …and one the app answers to (loopback) still does not make the link.
    client.post("/account/recover/", data={"email": "a@example.com"}, headers={"Host": "127.0.0.1:8000"})
    text = Mailbox.text(mailbox.to("a@example.com")[0])
    assert "http://onboarding.test/account/recover/confirm/" in text and "127.0.0.1" not in text


def test_tokens_are_masked_in_logs(client, mailbox):
    import io

    from onboarding.web.logmask import install, mask

    _user()
    link = _reset_link(client, mailbox)
    raw = link.rstrip("/").rsplit("/", 1)[1]
    assert raw not in mask(f'127.0.0.1 "GET {link} HTTP/1.1" 200')
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    root = logging.getLogger()
    root.addHandler(handler)
    logger = logging.getLogger("werkzeug.test-mask")
    logger.setLevel(logging.INFO)
    try:
        install()
        logger.info('"GET %s HTTP/1.1" 200', link)
    finally:
        root.removeHandler(handler)
    text = stream.getvalue()
    assert "/account/recover/confirm/" in text and raw not in text


def test_reset_form_checks_csrf(app, settings, mailbox):
    app.config["WTF_CSRF_ENABLED"] = True
    _user()
    client = app.test_client()
    assert client.post("/account/recover/", data={"email": "a@example.com"}).status_code == 400
    assert mailbox.messages() == []


def test_gunicorn_access_log_masks_tokens():
    from types import SimpleNamespace

    from gunicorn.config import Config

    from onboarding.web.logmask import GunicornLogger

    token = "T" * 43
    logger = GunicornLogger(Config())
    path = f"/account/recover/confirm/7/{token}/"
    req = SimpleNamespace(method="GET", path=path, query="", version=(1, 1), headers=[], uri=path)
    resp = SimpleNamespace(status="200 OK", response_length=10, sent=10, headers=[])
    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": path,
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
    }
    from datetime import timedelta

    atoms = logger.atoms(resp, req, environ, timedelta(seconds=0.01))
    assert token not in atoms["U"] and token not in atoms["r"]
    assert atoms["U"].startswith("/account/recover/confirm/7/")


def test_the_request_does_the_same_work_for_known_and_unknown(app, client, monkeypatch):
    """Same answer, and the same work in the request: one outbox message, whatever the address."""
    import onboarding.queue
    from onboarding.outbox.models import OutboxMessage

    _user()
    calls = []
    monkeypatch.setattr(onboarding.queue, "enqueue", lambda *a, **k: calls.append((a, k)))
    app.config["JOBS_SYNC"] = False
    known = _request(client, "a@example.com")
    unknown = _request(client, "nobody@example.com")
    assert comparable(known) == comparable(unknown)
    assert [c[0][0] for c in calls] == ["onboarding.tasks.deliver_outbox"] * 2
    assert [m.category for m in db.session.query(OutboxMessage)] == ["password_reset"] * 2
    assert db.session.query(AccountToken).count() == 0  # nothing decided in the request


def test_the_job_works_outside_a_request(app, mailbox):
    """The worker has no request context: the link comes from the base URL, the token is kept."""
    from flask import has_request_context

    from onboarding import tasks

    _user()
    assert not has_request_context()
    tasks.send_password_reset("a@example.com")
    tasks.send_password_reset("nobody@example.com")
    assert db.session.query(AccountToken).count() == 1
    assert mailbox.link("a@example.com", "/account/recover/confirm/").startswith("/account/recover/confirm/")
    assert len(mailbox.messages()) == 1


def test_simultaneous_uses_of_one_link_give_one_reset(app, mailbox):
    import threading

    _user()
    client = app.test_client()
    link = _reset_link(client, mailbox)
    results: list[int] = []
    barrier = threading.Barrier(8, timeout=30)

    def use(i: int) -> None:
        c = app.test_client()
        barrier.wait()
        results.append(c.post(link, data={"password": f"parallel passphrase {i}"}).status_code)

    threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results).count(303) == 1, results
    assert set(results) <= {303, 404}
    assert db.session.query(AuditLogEntry).filter_by(event="user.password-reset").count() == 1


def test_link_dies_when_the_account_is_disabled(client, mailbox):
    user = _user()
    link = _reset_link(client, mailbox)
    user.is_active_flag = False
    db.session.commit()
    assert client.post(link, data={"password": NEW_PASSWORD}).status_code == 404
    user.is_active_flag = True
    db.session.commit()
    assert login(client, "a@example.com", PASSWORD).status_code == 303  # unchanged


def test_a_disabled_user_cannot_sign_in(client):
    make_user("off@example.com", active=False)
    resp = login(client, "off@example.com")
    assert resp.status_code == 403 and b"This account has been disabled" in resp.get_data()
