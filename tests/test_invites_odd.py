"""Invites and odd input (issue 11): non-ASCII addresses, a revoke racing an accept, token guessing."""

from __future__ import annotations

import pytest

from tests.factories import login, make_member, make_org, make_user
from tests.test_invites_members import invite, pending


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def _manager(client, org):
    user = make_user("mgr@example.com", name="Manager")
    make_member(org, user, role="manager")
    assert login(client, "mgr@example.com").status_code == 303
    return user


# -- 7. A non-ASCII local part ------------------------------------------------------------------------


def test_a_non_ascii_address_by_form_is_answered_and_the_others_invited(client, org):
    _manager(client, org)
    resp = invite(client, "ünï@example.com\nok@example.com")
    assert resp.status_code < 500
    body = resp.get_data(as_text=True)
    assert "Invited ok@example.com." in body
    assert "ünï@example.com" in body
    assert pending(org, "ok@example.com") is not None


def test_a_non_ascii_address_by_api_is_a_clean_answer(client, org):
    _manager(client, org)
    resp = client.post(
        "/api/0/organizations/acme/members/", json={"email": "ünï@example.com", "role": "member"}
    )
    assert resp.status_code < 500, resp.get_data(as_text=True)
    if resp.status_code == 201:
        assert pending(org, "ünï@example.com") is not None
    else:
        assert resp.status_code == 400 and "email" in resp.get_json()


@pytest.mark.parametrize("settings", [{"ALLOW_REGISTRATION": True}])
@pytest.mark.parametrize("address", ["ünï@example.com", "a@exämple.com"])
def test_registering_or_resetting_with_a_non_ascii_address_is_no_500(client, settings, address):
    resp = client.post(
        "/auth/register/",
        data={"op": "register", "name": "U", "username": address, "password": "a sturdy passphrase"},
    )
    assert resp.status_code < 500
    client.post("/auth/logout/")
    assert client.post("/account/recover/", data={"email": address}).status_code < 500
