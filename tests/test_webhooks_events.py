"""Every member and invite event, emitted by the change itself and delivered with its data: member.joined,
member.removed (removed or left), member.role-changed, invite.created, invite.accepted, invite.declined."""

from __future__ import annotations

import json

import pytest

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.members import service as members
from onboarding.webhooks.events import EVENTS
from tests.factories import make_invite, make_member, make_user
from tests.webhook_helpers import Receiver, add_endpoint, owner_and_org


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}


def _events(receiver: Receiver) -> list[tuple[str, dict]]:
    out = []
    for got in receiver.received:
        body = json.loads(got.body)
        out.append((body["type"], body["data"]))
    return out


def test_member_events(app):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        add_endpoint(org, owner, receiver.url, list(EVENTS))
        ada = make_member(org, make_user("ada@example.com"))  # orgs.add_member: member.joined
        with write_intent(True):
            members.edit_member(org, ada, owner, "owner", role="admin")
            db.session.commit()
        with write_intent(True):
            members.edit_member(org, ada, owner, "owner", teams=[])  # teams only: no role-changed
            db.session.commit()
        with write_intent(True):
            members.remove_member(org, ada, owner, "owner")
            db.session.commit()
        bob_user = make_user("bob@example.com")
        bob = make_member(org, bob_user)
        with write_intent(True):
            members.leave(org, bob, bob_user)
            db.session.commit()
    got = _events(receiver)
    assert [(t, d["member"]["email"]) for t, d in got] == [
        ("member.joined", "ada@example.com"),
        ("member.role-changed", "ada@example.com"),
        ("member.removed", "ada@example.com"),
        ("member.joined", "bob@example.com"),
        ("member.removed", "bob@example.com"),
    ]
    assert got[1][1]["member"]["role"] == "admin"
    assert all(d["organization"]["slug"] == "acme" for _t, d in got)


def test_invite_events(app):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        add_endpoint(org, owner, receiver.url, list(EVENTS))
        with write_intent(True):
            invites.invite_many(org, owner, "owner", "cy@example.com", "member", [], ip=None)
            db.session.commit()
        invite, raw = make_invite(org, "dee@example.com", inviter=owner)
        user = make_user("dee@example.com")
        with write_intent(True):
            assert invites.accept(invite.id, raw, user, ip=None).ok
            db.session.commit()
        declined, _raw = make_invite(org, "eve@example.com", inviter=owner)
        with write_intent(True):
            invites.decline(declined, None, ip=None)
            db.session.commit()
    got = _events(receiver)
    assert [t for t, _d in got] == ["invite.created", "invite.accepted", "member.joined", "invite.declined"]
    created = got[0][1]["invite"]
    assert created["email"] == "cy@example.com" and created["pending"] and created["user"] is None
    accepted = got[1][1]["invite"]
    assert accepted["pending"] is False and accepted["user"]["email"] == "dee@example.com"
    assert got[2][1]["member"]["id"] == accepted["id"]
    assert got[3][1]["invite"]["email"] == "eve@example.com"
