"""Email confirmation: sent at registration (not for invitees), does not block sign-in, single use."""

from __future__ import annotations

from datetime import timedelta

import pytest

from onboarding.accounts.models import UserEmail
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.selfservice.models import AccountToken
from onboarding.selfservice.service import is_verified
from tests.factories import default_org
from tests.selfservice_helpers import mailbox_fixture  # noqa: F401


@pytest.fixture
def settings(settings):
    settings["ALLOW_REGISTRATION"] = True
    return settings


def _register(client, email="new@example.com"):
    return client.post(
        "/auth/login/",
        data={"op": "register", "name": "New Person", "username": email, "password": "a long new passphrase"},
    )


def _user(email="new@example.com"):
    from onboarding.accounts.service import get_user_by_email

    return get_user_by_email(email)


def test_registration_sends_confirmation_and_signs_in(client, mailbox):
    resp = _register(client)
    assert resp.status_code == 303
    assert resp.headers["Location"] == f"/organizations/{default_org().slug}/"  # not blocked
    assert client.get(resp.headers["Location"]).status_code == 200
    mails = mailbox.to("new@example.com")
    assert len(mails) == 1 and mails[0]["Subject"] == "Confirm your email address"
    assert not is_verified(_user())


def test_confirm_link_shows_a_button_then_confirms_once(client, app, mailbox):
    _register(client)
    link = mailbox.link("new@example.com", "/account/confirm-email/")
    anonymous = app.test_client()
    page = anonymous.get(link)
    assert page.status_code == 200 and b'id="confirm-email-form"' in page.get_data()
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert not is_verified(_user())  # GET changes nothing
    resp = anonymous.post(link)
    assert resp.status_code == 303
    db.session.expire_all()
    assert is_verified(_user())
    assert db.session.query(AuditLogEntry).filter_by(event="user.email.confirm").count() == 1
    again = anonymous.post(link)
    assert again.status_code == 404 and b"This link is not valid, or has expired." in again.get_data()


def test_expired_confirmation_link_is_refused(client, mailbox):
    _register(client)
    link = mailbox.link("new@example.com", "/account/confirm-email/")
    row = db.session.query(AccountToken).one()
    row.expires_at = row.created_at - timedelta(seconds=1)
    db.session.commit()
    assert client.post(link).status_code == 404
    assert not is_verified(_user())


def test_settings_page_shows_status_and_resends(client, mailbox):
    _register(client)
    page = client.get("/account/settings/").get_data(as_text=True)
    assert 'id="email-unverified"' in page and 'id="resend-confirmation-form"' in page
    resp = client.post("/account/settings/", data={"op": "resend"})
    assert resp.status_code == 303
    assert len(mailbox.to("new@example.com")) == 2
    assert db.session.query(AuditLogEntry).filter_by(event="user.email.confirm-resend").count() == 1
    # The newest link confirms.
    client.post(mailbox.link("new@example.com", "/account/confirm-email/"))
    page = client.get("/account/settings/").get_data(as_text=True)
    assert 'id="email-verified"' in page and 'id="resend-confirmation-form"' not in page


def test_resend_is_throttled(client, app, mailbox):
    _register(client)
    for _ in range(app.config["CONFIRM_RESEND_PER_USER"]):
        assert client.post("/account/settings/", data={"op": "resend"}).status_code == 303
    resp = client.post("/account/settings/", data={"op": "resend"})
    assert resp.status_code == 429 and b"too many confirmation emails" in resp.get_data()
    assert len(mailbox.to("new@example.com")) == 1 + app.config["CONFIRM_RESEND_PER_USER"]


def test_invite_registration_is_verified_and_gets_no_confirmation(client, mailbox):
    # Registration through an invite: the session carries the invite and the fixed email.
    with client.session_transaction() as sess:
        sess.update(
            invite_member_id=1,
            invite_token="t",
            invite_email="invited@example.com",
            can_register=True,
        )
    resp = _register(client, "invited@example.com")
    assert resp.status_code == 303
    row = db.session.query(UserEmail).filter_by(email="invited@example.com").one()
    assert row.is_verified
    assert mailbox.to("invited@example.com") == []
