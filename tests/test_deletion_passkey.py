"""A passkey answers for the password on ``/account/settings/delete/`` (a software authenticator plays
the browser's part, so the server's WebAuthn checks run for real)."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.accounts.models import User
from onboarding.extensions import db
from tests.deletion_helpers import count
from tests.factories import login, make_user
from tests.passkey_helpers import SoftPasskey
from tests.test_passkeys import ORIGIN, add_passkey

URL = "/account/settings/delete/"


@pytest.fixture(autouse=True)
def _base_url(settings: dict[str, Any]) -> None:
    settings["BASE_URL"] = ORIGIN  # the test client's host


def confirm(client: Any, device: SoftPasskey) -> Any:
    options = client.post("/auth/passkey/confirm/options/", json={})
    assert options.status_code == 200, options.get_data(as_text=True)
    return client.post(f"{URL}passkey/", json={"credential": device.get(options.get_json()["publicKey"])})


def test_a_passkey_stands_in_for_the_password(client):
    user = make_user("pk@example.com")
    login(client, "pk@example.com")
    device = add_passkey(client)
    page = client.get(URL).get_data(as_text=True)
    assert 'id="account-delete-passkey-button"' in page and 'id="account-delete-password"' in page
    assert client.post(URL, data={"password": ""}).status_code == 422  # nothing confirmed yet
    answer = confirm(client, device)
    assert answer.status_code == 200 and answer.get_json() == {"redirect": URL}
    page = client.get(URL).get_data(as_text=True)
    assert 'id="passkey-confirmed"' in page and 'id="account-delete-password"' not in page
    assert client.post(URL, data={}).status_code == 303
    assert count(User, User.id == user.id) == 0


def test_an_account_without_a_password_deletes_with_its_passkey(client):
    user = make_user("pk@example.com")
    login(client, "pk@example.com")
    device = add_passkey(client)
    db.session.get(User, user.id).password_hash = None
    db.session.commit()
    page = client.get(URL).get_data(as_text=True)
    assert 'id="account-delete-form"' not in page and 'id="account-delete-passkey-button"' in page
    resp = client.post(URL, data={"password": "guess"})
    assert resp.status_code == 422 and "confirm with your passkey instead" in resp.get_data(as_text=True)
    assert confirm(client, device).status_code == 200
    assert 'id="account-delete-form"' in client.get(URL).get_data(as_text=True)
    assert client.post(URL, data={}).status_code == 303 and count(User) == 0


def test_another_users_passkey_or_a_replay_does_not_count(app, client):
    make_user("pk@example.com")
    login(client, "pk@example.com")
    add_passkey(client)
    stranger = SoftPasskey(origin=ORIGIN)
    resp = confirm(client, stranger)
    assert resp.status_code == 422
    assert client.post(f"{URL}passkey/", json={"credential": {}}).status_code == 422  # no challenge left
    assert client.post(URL, data={}).status_code == 422 and count(User) == 1
