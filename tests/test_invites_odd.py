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


# -- 5. A manager revokes the invite while its owner accepts it ---------------------------------------


@pytest.mark.parametrize("where", ["page", "api"])
def test_accepting_an_invite_revoked_meanwhile_is_the_invalid_link_answer(app, org, monkeypatch, where):
    import threading

    from sqlalchemy import delete

    from onboarding.extensions import db
    from onboarding.invites import accepting
    from onboarding.orgs.models import OrganizationMember
    from tests.factories import make_invite

    if not app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql"):
        # On SQLite the accepting request holds the write lock, so the revoke waits for it: no race.
        pytest.skip("PostgreSQL only: a revoke can commit between the link check and the accept")
    user = make_user("joiner@example.com")
    member, raw = make_invite(org, "joiner@example.com")
    member_id = member.id
    client = app.test_client()
    assert login(client, "joiner@example.com").status_code == 303
    real_check = accepting.check_link

    def revoke_meanwhile() -> None:
        with app.app_context():  # another request: its own connection and transaction
            db.session.execute(delete(OrganizationMember).where(OrganizationMember.id == member_id))
            db.session.commit()
            db.session.remove()

    def check_then_revoked(*args, **kwargs):
        result = real_check(*args, **kwargs)
        worker = threading.Thread(target=revoke_meanwhile)
        worker.start()
        worker.join(30)
        return result

    monkeypatch.setattr(accepting, "check_link", check_then_revoked)
    if where == "page":
        resp = client.post(f"/accept/{member_id}/{raw}/")
        assert resp.status_code in (400, 404, 410), resp.status_code
        assert "not valid, or has expired" in resp.get_data(as_text=True)
    else:
        resp = client.post(f"/api/0/accept-invite/{member_id}/{raw}/")
        assert resp.status_code == 400 and "details" in resp.get_json()
    db.session.rollback()
    assert db.session.get(OrganizationMember, member_id) is None
    assert user.id is not None


# -- 13. Guessing invite tokens is throttled -----------------------------------------------------------


@pytest.mark.parametrize("settings", [{"INVITE_LINK_FAILURES_PER_IP": 5}])
@pytest.mark.parametrize("where", ["page", "api"])
def test_invite_token_guessing_is_throttled_before_the_database(app, org, settings, monkeypatch, where):
    from onboarding.invites import accepting
    from tests.factories import make_invite

    member, raw = make_invite(org, "joiner@example.com")
    guesser = app.test_client()
    base = "/accept" if where == "page" else "/api/0/accept-invite"
    codes = [guesser.get(f"{base}/{member.id}/{'B' * 43}/").status_code for _ in range(5)]
    assert set(codes) == ({404} if where == "page" else {400})

    def no_database(*args, **kwargs):
        raise AssertionError("the throttled request reached the link check")

    monkeypatch.setattr(accepting, "check_link", no_database)
    throttled = guesser.get(f"{base}/{member.id}/{'C' * 43}/")
    assert throttled.status_code == 429 and int(throttled.headers["Retry-After"]) > 0
    monkeypatch.undo()
    # The real link still works for its owner, from another address.
    owner = app.test_client()
    assert (
        owner.get(f"{base}/{member.id}/{raw}/", environ_base={"REMOTE_ADDR": "10.0.0.7"}).status_code == 200
    )
