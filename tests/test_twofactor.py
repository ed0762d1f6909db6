"""Two-factor: enrollment on the security page, removal, and the second step of sign-in (spec §1.2.3)."""

from __future__ import annotations

import hashlib
import re
import time

import pyotp
import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.twofactor import service as tf
from onboarding.twofactor.models import Authenticator, RecoveryCode
from onboarding.twofactor.service import user_has_2fa
from tests.factories import PASSWORD, default_org, login, make_member, make_user
from tests.twofactor_helpers import SECRET, code, enroll


def _secret_from(html: str) -> str:
    match = re.search(r'id="totp-secret">([A-Z2-7]+)<', html)
    assert match, "no #totp-secret on the page"
    return match.group(1)


# --- enrollment -----------------------------------------------------------------------------------


def test_security_page_needs_sign_in(client):
    resp = client.get("/account/settings/security/")
    assert resp.status_code == 302 and "/auth/login/" in resp.headers["Location"]


def test_enrollment_shows_qr_and_secret_and_confirms_with_a_code(client):
    user = make_user("tf@example.com")
    make_member(default_org(), user)
    login(client, "tf@example.com")
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert 'id="totp-enroll-form"' in page and 'name="otp"' in page
    # The QR code is an inline SVG; the page's only scripts are files (no inline script, as the CSP says).
    assert "<svg" in page
    assert all(' src="/static/' in tag for tag in re.findall(r"<script[^>]*>", page))
    secret = _secret_from(page)
    assert len(secret) >= 32
    # The same secret is offered until it is confirmed (reloading does not break a half-done setup).
    assert _secret_from(client.get("/account/settings/security/").get_data(as_text=True)) == secret

    bad = client.post("/account/settings/security/", data={"otp": "000000"})
    assert bad.status_code == 422
    assert "does not match" in bad.get_data(as_text=True)
    assert not user_has_2fa(user.id)

    ok = client.post("/account/settings/security/", data={"otp": pyotp.TOTP(secret).now()})
    assert ok.status_code == 200
    html = ok.get_data(as_text=True)
    codes = re.findall(r"<li><code>([0-9A-F]{5}-[0-9A-F]{5})</code></li>", html)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert "shown only now" in html
    assert user_has_2fa(user.id)
    # Stored hashed, never in plain text; shown once: the next visit does not list them.
    stored = db.session.scalars(select(RecoveryCode.code_hash)).all()
    assert len(stored) == 10
    assert hashlib.sha256(codes[0].replace("-", "").encode()).hexdigest() in stored
    assert not any(c.replace("-", "") in h or c in h for c in codes for h in stored)
    again = client.get("/account/settings/security/").get_data(as_text=True)
    assert codes[0] not in again and "10 of 10 recovery codes left" in again
    assert 'id="totp-secret"' not in again
    assert db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "user.2fa.enroll"))


def test_enrollment_code_is_validated(client):
    make_user("tf@example.com")
    login(client, "tf@example.com")
    client.get("/account/settings/security/")
    for bad in ["", "12345", "abcdef", "1" * 100]:
        resp = client.post("/account/settings/security/", data={"otp": bad})
        assert resp.status_code == 422, bad


def test_removal_needs_the_password(client):
    user = make_user("tf@example.com")
    enroll(user)
    login(client, "tf@example.com")
    assert client.post("/auth/2fa/", data={"otp": code(steps=1)}).status_code == 303
    wrong = client.post("/account/settings/security/remove/", data={"password": "not my password"})
    assert wrong.status_code == 422
    assert "not correct" in wrong.get_data(as_text=True)
    assert tf.user_has_2fa(user.id)
    empty = client.post("/account/settings/security/remove/", data={"password": ""})
    assert empty.status_code == 422 and tf.user_has_2fa(user.id)
    ok = client.post("/account/settings/security/remove/", data={"password": PASSWORD})
    assert ok.status_code == 303
    assert not tf.user_has_2fa(user.id)
    assert db.session.scalar(select(RecoveryCode.id)) is None


def test_regenerating_recovery_codes_needs_the_password(client):
    user = make_user("tf@example.com")
    old = enroll(user)
    login(client, "tf@example.com")
    client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert (
        client.post("/account/settings/security/recovery-codes/", data={"regen-password": "x"}).status_code
        == 422
    )
    resp = client.post("/account/settings/security/recovery-codes/", data={"regen-password": PASSWORD})
    new = re.findall(r"<li><code>([0-9A-F]{5}-[0-9A-F]{5})</code></li>", resp.get_data(as_text=True))
    assert len(new) == 10 and not set(new) & set(old)
    auth = tf.get_authenticator(user)
    assert auth is not None
    assert not tf.verify_code(auth, old[0]) and tf.verify_code(auth, new[0])


def test_has_2fa_ignores_recovery_codes_alone(app):
    user = make_user("tf@example.com")
    assert not user_has_2fa(user.id)
    enroll(user)
    assert user_has_2fa(user.id)


# --- the second step of sign-in -------------------------------------------------------------------


@pytest.fixture
def enrolled(client):
    user = make_user("two@example.com")
    make_member(default_org(), user)
    codes = enroll(user)
    return user, codes


def test_password_alone_does_not_sign_in(client, enrolled):
    resp = login(client, "two@example.com")
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/2fa/"
    with client.session_transaction() as sess:
        pending = sess["_pending_2fa"]
        assert pending[0] == enrolled[0].id and pending[2] is None
        assert abs(pending[1] - time.time()) < 5
        assert "_user_id" not in sess
    home = client.get(f"/organizations/{default_org().slug}/")
    assert home.status_code == 302 and "/auth/login/" in home.headers["Location"]
    page = client.get("/auth/2fa/")
    assert page.status_code == 200 and 'id="twofactor-form"' in page.get_data(as_text=True)


def test_right_code_signs_in_and_lands(client, enrolled):
    login(client, "two@example.com")
    bad = client.post("/auth/2fa/", data={"otp": "123456"})
    assert bad.status_code == 422 and tf.INVALID_CODE in bad.get_data(as_text=True)
    ok = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert ok.status_code == 303
    assert ok.headers["Location"] == f"/organizations/{default_org().slug}/"
    assert client.get(f"/organizations/{default_org().slug}/").status_code == 200
    with client.session_transaction() as sess:
        assert "_pending_2fa" not in sess
    entry = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "user.login.success"))
    assert entry is not None and entry.data == {"two_factor": True}


def test_next_is_kept_through_the_second_step(client, enrolled):
    client.get("/auth/login/?next=/account/settings/security/")
    login(client, "two@example.com")
    resp = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert resp.headers["Location"] == "/account/settings/security/"


def test_htmx_answers_with_hx_redirect(client, enrolled):
    resp = login(client, "two@example.com", headers={"HX-Request": "true"})
    assert resp.headers["HX-Redirect"] == "/auth/2fa/"
    bad = client.post("/auth/2fa/", data={"otp": "1"}, headers={"HX-Request": "true"})
    assert bad.status_code == 422 and "<html" not in bad.get_data(as_text=True)
    ok = client.post("/auth/2fa/", data={"otp": code(steps=1)}, headers={"HX-Request": "true"})
    assert ok.headers["HX-Redirect"] == f"/organizations/{default_org().slug}/"


def test_a_code_is_not_accepted_twice(client, enrolled):
    used = code(steps=1)
    login(client, "two@example.com")
    assert client.post("/auth/2fa/", data={"otp": used}).status_code == 303
    client.post("/auth/logout/")
    login(client, "two@example.com")
    replay = client.post("/auth/2fa/", data={"otp": used})
    assert replay.status_code == 422
    # Nor an older code of the same window (a step before the one already used).
    assert client.post("/auth/2fa/", data={"otp": code(steps=0)}).status_code == 422


def test_verify_code_is_single_use_in_the_service(app):
    user = make_user("svc@example.com")
    enroll(user)
    auth = tf.get_authenticator(user)
    assert auth is not None
    later = code(steps=1)
    assert tf.verify_code(auth, later) is True
    assert tf.verify_code(auth, later) is False


def test_recovery_code_signs_in_once(client, enrolled):
    _, codes = enrolled
    login(client, "two@example.com")
    assert client.post("/auth/2fa/", data={"otp": codes[3].lower()}).status_code == 303
    client.post("/auth/logout/")
    login(client, "two@example.com")
    assert client.post("/auth/2fa/", data={"otp": codes[3]}).status_code == 422
    assert client.post("/auth/2fa/", data={"otp": codes[4].replace("-", "")}).status_code == 303
    auth = tf.get_authenticator(enrolled[0])
    assert auth is not None and tf.remaining_recovery_codes(auth) == 8


def test_codes_are_rate_limited(client, enrolled):
    login(client, "two@example.com")
    for _ in range(5):
        assert client.post("/auth/2fa/", data={"otp": "000000"}).status_code == 422
    throttled = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"]
    assert tf.THROTTLED in throttled.get_data(as_text=True)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess


def test_pending_step_expires_after_five_minutes(client, enrolled):
    login(client, "two@example.com")
    with client.session_transaction() as sess:
        sess["_pending_2fa"][1] -= 301
        sess.modified = True
    resp = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and "_pending_2fa" not in sess


@pytest.mark.parametrize("bad", [None, "x", [1, 2], ["1", 2, None], [999999, 0, None]])
def test_tampered_or_missing_pending_step(client, enrolled, bad):
    with client.session_transaction() as sess:
        if bad is not None:
            sess["_pending_2fa"] = bad if bad != [999999, 0, None] else [999999, int(time.time()), None]
    resp = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"


def test_user_without_2fa_signs_in_directly(client):
    make_member(default_org(), make_user("plain@example.com"))
    resp = login(client, "plain@example.com")
    assert resp.headers["Location"] == f"/organizations/{default_org().slug}/"


def test_org_login_page_keeps_org_through_second_step(client, enrolled):
    org = default_org()
    resp = client.post(
        f"/auth/login/{org.slug}/",
        data={"op": "login", "username": "two@example.com", "password": PASSWORD},
    )
    assert resp.headers["Location"] == "/auth/2fa/"
    with client.session_transaction() as sess:
        assert sess["_pending_2fa"][2] == org.id
    assert client.post("/auth/2fa/", data={"otp": code(steps=1)}).status_code == 303
    with client.session_transaction() as sess:
        assert sess["activeorg"] == org.slug


def test_secret_is_not_in_audit_or_pages_after_enrollment(client, enrolled):
    login(client, "two@example.com")
    client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert SECRET not in client.get("/account/settings/security/").get_data(as_text=True)
    for entry in db.session.scalars(select(AuditLogEntry)):
        assert SECRET not in str(entry.data)
    assert db.session.scalar(select(Authenticator.secret)) == SECRET


def test_simultaneous_use_of_one_code_accepts_it_once(app):
    """Two requests racing with the same code: the conditional update lets exactly one through."""
    import threading

    from onboarding.database import write_intent

    user = make_user("race@example.com")
    enroll(user)
    user_id = user.id
    later = code(steps=1)
    results: list[bool] = []
    barrier = threading.Barrier(4, timeout=30)

    def attempt() -> None:
        with app.app_context(), write_intent(True):
            barrier.wait()
            auth = tf.get_authenticator(user_id)
            assert auth is not None
            results.append(tf.verify_code(auth, later))
            db.session.commit()

    threads = [threading.Thread(target=attempt) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(results) == [False, False, False, True]
