"""An invite sent to X, followed while signed in as Y: besides switching account, Y may prove X with a
code emailed to X; X becomes a verified address of Y's account and the invite is accepted."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from onboarding.accounts.models import UserEmail
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db, utcnow
from onboarding.invites import prove
from onboarding.orgs.models import OrganizationMember
from onboarding.selfservice.models import AccountToken
from tests.factories import login, make_invite, make_member, make_org, make_user, sent_mail

INVALID = "The invite link you followed is not valid, or has expired."


@pytest.fixture
def setup(app):  # type: ignore[no-untyped-def]
    org = make_org("Acme", slug="acme")
    make_member(org, make_user("boss@example.com"), role="owner")
    member, raw = make_invite(org, "work@example.com")
    me = make_user("home@example.com")
    return org, member, raw, me


def _path(member, raw) -> str:  # type: ignore[no-untyped-def]
    return f"/accept/{member.id}/{raw}/"


def _send(client, member, raw):  # type: ignore[no-untyped-def]
    return client.post(_path(member, raw) + "prove-email/", data={"op": "send"})


def _verify(client, member, raw, code):  # type: ignore[no-untyped-def]
    return client.post(_path(member, raw) + "prove-email/", data={"op": "verify", "code": code})


def _codes(app, to: str) -> list[str]:
    found = []
    for msg in sent_mail(app):
        if msg["To"] == to and "code" in msg["Subject"]:
            found.append(re.search(r"^(\d{6})$", msg.get_body(("plain",)).get_content(), re.M).group(1))
    return found


def _joined(org, user) -> bool:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return (
        db.session.scalar(
            select(OrganizationMember).where(
                OrganizationMember.organization_id == org.id, OrganizationMember.user_id == user.id
            )
        )
        is not None
    )


def test_the_mismatch_page_offers_to_prove_the_address(client, setup):
    _org, member, raw, _me = setup
    login(client, "home@example.com")
    page = client.get(_path(member, raw)).get_data(as_text=True)
    assert 'id="switch-account-form"' in page and 'id="prove-email-form"' in page
    assert "Email a code to work@example.com" in page


def test_the_right_code_adds_the_address_and_accepts(app, client, setup):
    org, member, raw, me = setup
    login(client, "home@example.com")
    sent = _send(client, member, raw)
    assert sent.status_code == 200 and 'id="prove-code-form"' in sent.get_data(as_text=True)
    assert sent.headers["Referrer-Policy"] == "no-referrer"
    [code] = _codes(app, "work@example.com")
    # Only a keyed hash is kept: the code is nowhere in the database.
    row = db.session.scalar(select(AccountToken).where(AccountToken.purpose == prove.PURPOSE))
    assert code not in (row.token_hash + (row.binding or "")) and row.email == "work@example.com"
    done = _verify(client, member, raw, f" {code[:3]} {code[3:]} ")  # spaces as people type them
    assert done.status_code == 303 and done.headers["Location"] == "/organizations/acme/"
    assert _joined(org, me)
    address = db.session.scalar(
        select(UserEmail).where(UserEmail.user_id == me.id, UserEmail.email == "work@example.com")
    )
    assert address is not None and address.is_verified
    entry = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "user.add-email"))
    assert entry.actor_id == me.id and entry.data == {
        "email": "work@example.com",
        "verified_by": "invite code",
    }
    assert _verify(client, member, raw, code).status_code in (303, 404)  # spent, and the invite is used


def test_a_wrong_or_expired_or_replaced_code_is_refused(app, client, setup):
    org, member, raw, me = setup
    login(client, "home@example.com")
    _send(client, member, raw)
    [first] = _codes(app, "work@example.com")
    wrong = _verify(client, member, raw, "000000" if first != "000000" else "111111")
    assert wrong.status_code == 422 and prove.WRONG_CODE in wrong.get_data(as_text=True)
    _send(client, member, raw)  # a new code: the first one stops working
    first_again, second = _codes(app, "work@example.com")
    assert first_again == first
    if first != second:
        assert _verify(client, member, raw, first).status_code == 422
    db.session.execute(
        AccountToken.__table__.update().where(AccountToken.used_at.is_(None)).values(expires_at=utcnow())
    )
    db.session.commit()
    assert _verify(client, member, raw, second).status_code == 422  # expired
    assert not _joined(org, me)
    assert db.session.scalar(select(UserEmail).where(UserEmail.email == "work@example.com")) is None


def test_a_code_is_bound_to_its_invite(app, client, setup):
    org, member, raw, me = setup
    other, other_raw = make_invite(org, "other@example.com")
    login(client, "home@example.com")
    _send(client, member, raw)
    [code] = _codes(app, "work@example.com")
    assert _verify(client, other, other_raw, code).status_code == 422
    assert not _joined(org, me)


def test_an_address_of_another_account_is_not_offered_a_code(app, client, setup):
    _org, member, raw, _me = setup
    make_user("work@example.com")
    login(client, "home@example.com")
    resp = _send(client, member, raw)
    assert resp.status_code == 422
    assert "work@example.com is the address of another account" in resp.get_data(as_text=True)
    assert _codes(app, "work@example.com") == []


def test_wrong_codes_and_sends_are_limited(app, client, setup):
    _org, member, raw, _me = setup
    login(client, "home@example.com")
    _send(client, member, raw)
    [code] = _codes(app, "work@example.com")
    bad = "999999" if code != "999999" else "888888"
    for _ in range(prove.FAILURES.limit):
        assert _verify(client, member, raw, bad).status_code == 422
    locked = _verify(client, member, raw, code)  # even the right code waits now
    assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
    for _ in range(prove.SENDS.limit - 1):
        assert _send(client, member, raw).status_code == 200
    too_many = _send(client, member, raw)
    assert too_many.status_code == 429 and "Too many codes were sent" in too_many.get_data(as_text=True)
    assert len(_codes(app, "work@example.com")) == prove.SENDS.limit


def test_bad_links_and_anonymous_visitors(client, setup):
    _org, member, raw, _me = setup
    resp = _send(client, member, raw)  # not signed in: back to the invite page, which says what to do
    assert resp.status_code == 303 and resp.headers["Location"] == _path(member, raw)
    login(client, "home@example.com")
    bad = client.post(f"/accept/{member.id}/{'x' * 43}/prove-email/", data={"op": "send"})
    assert bad.status_code == 404 and INVALID in bad.get_data(as_text=True)
    assert client.post(_path(member, raw) + "prove-email/", data={"op": "nope"}).status_code == 400
