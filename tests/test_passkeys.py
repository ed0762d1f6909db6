"""Passkeys without a browser: a software authenticator answers the JSON ceremonies, so the server's
checks (challenge, origin, relying party, signature, counter) run for real."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select, update

from onboarding.accounts.models import UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db, utcnow
from onboarding.passkeys.models import Passkey, PasskeyChallenge
from onboarding.twofactor.models import Authenticator
from onboarding.twofactor.service import user_has_2fa
from tests.factories import PASSWORD, default_org, login, make_member, make_user
from tests.passkey_helpers import SoftPasskey
from tests.twofactor_helpers import code, enroll

ORIGIN = "http://localhost"


@pytest.fixture(autouse=True)
def _base_url(settings: dict[str, Any]) -> None:
    settings["BASE_URL"] = ORIGIN  # the test client's host


def add_passkey(client: Any, name: str = "Laptop", device: SoftPasskey | None = None) -> SoftPasskey:
    device = device or SoftPasskey(origin=ORIGIN)
    options = client.post("/auth/passkey/register/options/", json={})
    assert options.status_code == 200, options.get_data(as_text=True)
    answer = client.post(
        "/auth/passkey/register/",
        json={"credential": device.create(options.get_json()["publicKey"]), "name": name},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)
    return device


def signin(client: Any, device: SoftPasskey, **kw: Any) -> Any:
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    return client.post("/auth/passkey/signin/", json={"credential": device.get(options, **kw)})


def _user_with_passkey(client: Any, email: str = "pk@example.com") -> tuple[Any, SoftPasskey]:
    user = make_user(email)
    make_member(default_org(), user)
    login(client, email)
    device = add_passkey(client)
    client.post("/auth/logout/")
    return user, device


# --- adding ---------------------------------------------------------------------------------------


def test_add_lists_and_audits_a_passkey(client):
    user = make_user("pk@example.com")
    make_member(default_org(), user)
    login(client, "pk@example.com")
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert 'id="passkey-add"' in page and 'id="passkeys"' in page
    assert "needs JavaScript" in page and "You have no passkeys yet" in page

    options = client.post("/auth/passkey/register/options/", json={}).get_json()["publicKey"]
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "preferred"
    assert "pk@example.com" not in options["user"]["id"]
    device = SoftPasskey(origin=ORIGIN)
    resp = client.post(
        "/auth/passkey/register/", json={"credential": device.create(options), "name": "  Work   laptop "}
    )
    assert resp.status_code == 200
    assert resp.get_json()["redirect"] == "/account/settings/security/"
    passkey = db.session.scalars(select(Passkey)).one()
    assert passkey.user_id == user.id and passkey.name == "Work laptop" and passkey.transports == "internal"
    assert user_has_2fa(user.id)
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert f'id="passkey-remove-{passkey.id}"' in page and "Work laptop" in page and "never used" in page
    events = db.session.scalars(select(AuditLogEntry.event)).all()
    assert "user.passkey.add" in events

    # The next registration excludes it, and the same credential cannot be added twice.
    again = client.post("/auth/passkey/register/options/", json={}).get_json()["publicKey"]
    assert [c["id"] for c in again["excludeCredentials"]] == [passkey.credential_id]
    assert again["user"]["id"] == options["user"]["id"]
    dup = client.post("/auth/passkey/register/", json={"credential": device.create(again)})
    assert dup.status_code == 422 and "already registered" in dup.get_json()["detail"]


def test_registration_needs_sign_in_and_its_own_challenge(client):
    assert client.post("/auth/passkey/register/options/", json={}).status_code == 401
    make_user("pk@example.com")
    login(client, "pk@example.com")
    device = SoftPasskey(origin=ORIGIN)
    options = client.post("/auth/passkey/register/options/", json={}).get_json()["publicKey"]
    forged = dict(options, challenge="A" * 43)
    resp = client.post("/auth/passkey/register/", json={"credential": device.create(forged)})
    assert resp.status_code == 422
    # The challenge is spent even by a failed answer: the right one no longer works either.
    resp = client.post("/auth/passkey/register/", json={"credential": device.create(options)})
    assert resp.status_code == 422 and "expired" in resp.get_json()["detail"]
    assert db.session.scalar(select(Passkey.id)) is None
    assert client.post("/auth/passkey/register/", json={"credential": "nonsense"}).status_code == 422


def test_another_origin_is_refused_with_a_clear_message(client, app):
    make_user("pk@example.com")
    login(client, "pk@example.com")
    device = SoftPasskey(origin="http://evil.test")
    options = client.post("/auth/passkey/register/options/", json={}).get_json()["publicKey"]
    resp = client.post("/auth/passkey/register/", json={"credential": device.create(options)})
    assert resp.status_code == 422
    app.config["BASE_URL"] = "https://accounts.example.com"
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert "Passkeys work only at https://accounts.example.com/" in page
    resp = client.post("/auth/passkey/register/options/", json={})
    assert resp.status_code == 403 and "https://accounts.example.com" in resp.get_json()["detail"]
    assert "Passkeys work only at" in client.post("/auth/logout/", follow_redirects=True).get_data(
        as_text=True
    )


# --- signing in -------------------------------------------------------------------------------------


def test_sign_in_with_a_passkey_and_no_email(client):
    user, device = _user_with_passkey(client)
    page = client.get("/auth/login/").get_data(as_text=True)
    assert 'id="passkey-signin"' in page and 'autocomplete="username webauthn"' in page
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    assert options["allowCredentials"] == [] and options["rpId"] == "localhost"
    resp = client.post("/auth/passkey/signin/", json={"credential": device.get(options)})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["redirect"] == "/organizations/default/"
    assert client.get("/account/settings/security/").status_code == 200
    passkey = db.session.scalars(select(Passkey)).one()
    assert passkey.sign_count == 1 and passkey.last_used_at is not None
    entry = db.session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.event == "user.login.success")
    ).all()[-1]
    assert entry.actor_id == user.id and entry.data.get("method") == "passkey"


def test_a_replayed_assertion_is_refused(client):
    _, device = _user_with_passkey(client)
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    answer = device.get(options)
    assert client.post("/auth/passkey/signin/", json={"credential": answer}).status_code == 200
    client.post("/auth/logout/")
    # The same answer again: its challenge was used.
    replay = client.post("/auth/passkey/signin/", json={"credential": answer})
    assert replay.status_code == 422
    # Against a fresh challenge but with a counter that did not grow (a cloned authenticator).
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    cloned = client.post("/auth/passkey/signin/", json={"credential": device.get(options, count=False)})
    assert cloned.status_code == 422
    assert client.get("/account/settings/security/").status_code == 302
    assert db.session.scalar(select(PasskeyChallenge.id)) is None


def test_foreign_origin_and_rp_assertions_are_refused(client):
    _, device = _user_with_passkey(client)
    for kw in ({"origin": "http://evil.test"}, {"rp_id": "evil.test"}):
        resp = signin(client, device, **kw)
        assert resp.status_code == 422, kw
    assert client.get("/account/settings/security/").status_code == 302
    assert signin(client, device).status_code == 200


def test_expired_challenge_and_unknown_passkey(client):
    _, device = _user_with_passkey(client)
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    db.session.execute(update(PasskeyChallenge).values(expires_at=utcnow() - timedelta(seconds=1)))
    db.session.commit()
    resp = client.post("/auth/passkey/signin/", json={"credential": device.get(options)})
    assert resp.status_code == 422 and "expired" in resp.get_json()["detail"]
    stranger = SoftPasskey(origin=ORIGIN)
    resp = signin(client, stranger)
    assert resp.status_code == 422 and "not registered" in resp.get_json()["detail"]
    assert client.post("/auth/passkey/signin/", json={}).status_code == 422


def test_passkey_sign_in_is_throttled_like_password_sign_in(client, app):
    _, device = _user_with_passkey(client)
    app.config["LOGIN_FAILURES_PER_IP"] = 3
    stranger = SoftPasskey(origin=ORIGIN)
    for _ in range(3):
        assert signin(client, stranger).status_code == 422
    resp = client.post("/auth/passkey/signin/options/", json={})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    assert client.post("/auth/passkey/signin/", json={}).status_code == 429


def test_disabled_account_cannot_sign_in_with_its_passkey(client):
    user, device = _user_with_passkey(client)
    user.is_active_flag = False
    db.session.commit()
    assert signin(client, device).status_code == 403
    assert client.get("/account/settings/security/").status_code == 302


# --- the second factor ------------------------------------------------------------------------------


def test_password_sign_in_of_a_passkey_owner_asks_for_the_passkey(client):
    user, device = _user_with_passkey(client)
    resp = login(client, "pk@example.com")
    assert resp.status_code == 303 and resp.headers["Location"].endswith("/auth/2fa/")
    assert client.get("/account/settings/security/").status_code == 302  # not signed in yet
    page = client.get("/auth/2fa/").get_data(as_text=True)
    assert 'id="passkey-second"' in page and 'id="twofactor-form"' not in page  # no app: no code form
    options = client.post("/auth/passkey/2fa/options/", json={}).get_json()["publicKey"]
    assert [c["id"] for c in options["allowCredentials"]] == [
        db.session.scalar(select(Passkey.credential_id))
    ]
    resp = client.post("/auth/passkey/2fa/", json={"credential": device.get(options)})
    assert resp.status_code == 200 and resp.get_json()["redirect"] == "/organizations/default/"
    assert client.get("/account/settings/security/").status_code == 200


def test_second_factor_passkey_must_be_the_users_own(client):
    _user_with_passkey(client, "a@example.com")
    _, other = _user_with_passkey(client, "b@example.com")
    login(client, "a@example.com")
    options = client.post("/auth/passkey/2fa/options/", json={}).get_json()["publicKey"]
    resp = client.post("/auth/passkey/2fa/", json={"credential": other.get(options)})
    assert resp.status_code == 422
    assert client.get("/account/settings/security/").status_code == 302
    # Without a password step first there is nothing to complete.
    client.post("/auth/logout/")
    assert client.post("/auth/passkey/2fa/options/", json={}).status_code == 401


def test_totp_still_works_for_a_user_with_both(client):
    user, _device = _user_with_passkey(client)
    enroll(user)
    login(client, "pk@example.com")
    page = client.get("/auth/2fa/").get_data(as_text=True)
    assert 'id="twofactor-form"' in page and 'id="passkey-second"' in page
    resp = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert resp.status_code == 303
    assert client.get("/account/settings/security/").status_code == 200


# --- renaming and removing --------------------------------------------------------------------------


def test_rename_and_remove(client):
    user, _ = _user_with_passkey(client)
    enroll(user)
    passkey = db.session.scalars(select(Passkey)).one()
    login(client, "pk@example.com")
    client.post("/auth/2fa/", data={"otp": code(steps=1)})
    bad = client.post(f"/account/settings/security/passkeys/{passkey.id}/rename/", data={"name": " "})
    assert bad.status_code == 422 and "Enter a name" in bad.get_data(as_text=True)
    ok = client.post(f"/account/settings/security/passkeys/{passkey.id}/rename/", data={"name": "Phone"})
    assert ok.status_code == 303
    db.session.refresh(passkey)
    assert passkey.name == "Phone"
    resp = client.post(f"/account/settings/security/passkeys/{passkey.id}/remove/", data={})
    assert resp.status_code == 303
    assert db.session.scalar(select(Passkey.id)) is None
    assert "user.passkey.remove" in db.session.scalars(select(AuditLogEntry.event)).all()


def test_remove_asks_for_the_password_after_ten_minutes(client):
    user, _ = _user_with_passkey(client)
    enroll(user)
    passkey = db.session.scalars(select(Passkey)).one()
    login(client, "pk@example.com")
    client.post("/auth/2fa/", data={"otp": code(steps=1)})
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert f'id="passkey-remove-password-{passkey.id}"' in page
    url = f"/account/settings/security/passkeys/{passkey.id}/remove/"
    assert client.post(url, data={}).status_code == 422
    wrong = client.post(url, data={"password": "wrong password"})
    assert wrong.status_code == 422 and "not correct" in wrong.get_data(as_text=True)
    assert db.session.scalar(select(Passkey.id)) == passkey.id
    assert client.post(url, data={"password": PASSWORD}).status_code == 303
    assert db.session.scalar(select(Passkey.id)) is None


def test_removing_the_app_keeps_two_factor_when_a_passkey_remains(client):
    from onboarding.orgs.models import OrgFlags

    user, device = _user_with_passkey(client)
    enroll(user)
    org = default_org()
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    options = client.post("/auth/passkey/signin/options/", json={}).get_json()["publicKey"]
    client.post("/auth/passkey/signin/", json={"credential": device.get(options)})
    resp = client.post("/account/settings/security/remove/", data={"password": PASSWORD})
    assert resp.status_code == 303
    assert db.session.scalar(select(Authenticator.id)) is None and user_has_2fa(user.id)
    passkey = db.session.scalars(select(Passkey)).one()
    resp = client.post(f"/account/settings/security/passkeys/{passkey.id}/remove/", data={})
    assert resp.status_code == 403 and "only second factor" in resp.get_data(as_text=True)
    assert db.session.scalar(select(Passkey.id)) == passkey.id


# --- the JSON surface -------------------------------------------------------------------------------


def test_ceremonies_are_in_the_openapi_document(client):
    doc = client.get("/api/0/openapi.json").get_json()
    for path in ("signin", "2fa", "register", "confirm"):
        for suffix in ("", "options/"):
            operation = doc["paths"][f"/auth/passkey/{path}/{suffix}"]["post"]
            assert operation["tags"] == ["passkeys"] and "422" in operation["responses"] or suffix
    assert doc["paths"]["/auth/passkey/signin/"]["post"]["security"] == []


def test_a_json_request_without_csrf_token_gets_a_json_error(client, app):
    app.config["WTF_CSRF_ENABLED"] = True
    resp = client.post("/auth/passkey/signin/options/", json={})
    assert resp.status_code == 400 and resp.is_json
    assert "expired or did not come from this site" in resp.get_json()["detail"]


def test_a_passkey_only_account_confirms_with_a_passkey_after_ten_minutes(client):
    user = make_user("nopw@example.com")
    make_member(default_org(), user)
    login(client, "nopw@example.com")
    device = add_passkey(client, "Phone")
    second = add_passkey(client, "Laptop", SoftPasskey(origin=ORIGIN))
    del second
    user.password_hash = None  # e.g. made by createuser without one: passkeys are its only way in
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert 'id="passkey-confirm"' in page and "passkey-remove-password" not in page
    first = db.session.scalars(select(Passkey).order_by(Passkey.id)).first()
    assert first is not None
    url = f"/account/settings/security/passkeys/{first.id}/remove/"
    refused = client.post(url, data={})
    assert refused.status_code == 403 and "Confirm with a passkey" in refused.get_data(as_text=True)
    assert client.post("/auth/passkey/register/options/", json={}).status_code == 403

    options = client.post("/auth/passkey/confirm/options/", json={}).get_json()["publicKey"]
    resp = client.post("/auth/passkey/confirm/", json={"credential": device.get(options)})
    assert resp.status_code == 200
    assert client.post(url, data={}).status_code == 303
    assert len(db.session.scalars(select(Passkey)).all()) == 1


def test_remove_without_javascript_goes_through_the_confirmation_page(client):
    import re

    _, device = _user_with_passkey(client)
    assert signin(client, device).status_code == 200
    passkey = db.session.scalars(select(Passkey)).one()
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert page.count(f'id="passkey-remove-{passkey.id}"') == 1
    form = page[page.index(f'id="passkey-remove-{passkey.id}"') - 200 :]
    token = re.search(r'name="c" value="([^"]+)"', form)
    assert token and 'action="/confirm/"' in form[:400]
    confirm = client.get("/confirm/", query_string={"c": token.group(1)}).get_data(as_text=True)
    assert "Remove the passkey “Laptop”?" in confirm
    assert f'action="/account/settings/security/passkeys/{passkey.id}/remove/"' in confirm


def test_passkey_sign_in_resumes_the_invite_as_a_password_sign_in_does(client):
    from onboarding.orgs.models import OrganizationMember
    from tests.factories import make_invite, make_org

    user, device = _user_with_passkey(client, "old@example.com")
    org = make_org("Acme", slug="acme")
    member, raw = make_invite(org, "old@example.com")
    client.get(f"/accept/{member.id}/{raw}/")  # signed out: the invite is kept in the session
    resp = signin(client, device)
    assert resp.status_code == 200 and resp.get_json()["redirect"] == "/organizations/acme/"
    assert db.session.get(OrganizationMember, member.id).user_id == user.id
    page = client.get("/organizations/acme/").get_data(as_text=True)
    assert "You have been added to the Acme organization." in page


def test_adding_a_passkey_completes_an_invite_waiting_on_two_factor(client):
    from onboarding.orgs.models import OrganizationMember, OrgFlags
    from tests.factories import make_invite, make_org

    org = make_org("Acme", slug="acme")
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    member, raw = make_invite(org, "new@example.com")
    user = make_user("new@example.com")
    client.get(f"/accept/{member.id}/{raw}/")
    login(client, "new@example.com")
    assert db.session.get(OrganizationMember, member.id).user_id is None  # waits for two-factor
    options = client.post("/auth/passkey/register/options/", json={}).get_json()["publicKey"]
    resp = client.post(
        "/auth/passkey/register/", json={"credential": SoftPasskey(origin=ORIGIN).create(options)}
    )
    assert resp.status_code == 200 and resp.get_json()["redirect"] == "/organizations/acme/"
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).user_id == user.id


def test_challenges_per_address_are_limited(client):
    from onboarding.passkeys import challenges

    for _ in range(challenges.PER_IP_PER_MINUTE):
        assert client.post("/auth/passkey/signin/options/", json={}).status_code == 200
    resp = client.post("/auth/passkey/signin/options/", json={})
    assert resp.status_code == 429 and resp.headers["Retry-After"]
    # Another address is not affected; each session keeps one challenge per purpose.
    other = client.post("/auth/passkey/signin/options/", json={}, environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 200
    assert db.session.scalar(select(func.count(PasskeyChallenge.id))) <= 2


@pytest.mark.parametrize(
    ("base", "message"),
    [
        ("http://127.0.0.1:5000", "they need a host name, not an IP address"),
        ("http://onboarding.example.com", "Passkeys need HTTPS"),
        ("http://localhost:5000", None),
        ("https://onboarding.example.com", None),
    ],
)
def test_passkeys_need_a_secure_host_name(app, base, message):
    from onboarding.passkeys import service as pk

    with app.test_request_context():
        app.config["BASE_URL"] = base
        got = pk.wrong_origin_message(pk.relying_party(base), base)
    assert (got is None) if message is None else (message in str(got))


def test_adding_after_ten_minutes_needs_the_password(client):
    make_user("pk@example.com")
    login(client, "pk@example.com")
    db.session.execute(update(UserSession).values(created_at=utcnow() - timedelta(minutes=11)))
    db.session.commit()
    page = client.get("/account/settings/security/").get_data(as_text=True)
    assert 'id="passkey-add-password"' in page
    assert client.post("/auth/passkey/register/options/", json={}).status_code == 403
    wrong = client.post("/auth/passkey/register/options/", json={"password": "not it"})
    assert wrong.status_code == 403 and "not correct" in wrong.get_json()["detail"]
    options = client.post("/auth/passkey/register/options/", json={"password": PASSWORD})
    assert options.status_code == 200
    device = SoftPasskey(origin=ORIGIN)
    resp = client.post(
        "/auth/passkey/register/", json={"credential": device.create(options.get_json()["publicKey"])}
    )
    assert resp.status_code == 200
    # Confirmed once: the next ten minutes need no password again.
    assert 'id="passkey-add-password"' not in client.get("/account/settings/security/").get_data(as_text=True)
