"""The invite inbox (page and API), declining (from the link and the inbox), the notice after sign-in,
and alias-aware matching for duplicates and daily limits (contract, "An invite belongs to its address")."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding import ratelimit
from onboarding.accounts.models import UserEmail
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.invites import sending
from onboarding.invites.addresses import match_key
from onboarding.orgs.models import OrganizationMember
from tests.factories import login, make_invite, make_member, make_org, make_user, sent_mail


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


@pytest.fixture
def inviter(org):
    user = make_user("boss@example.com", name="Boss")
    make_member(org, user, role="owner")
    return user


def path(member, raw):
    return f"/accept/{member.id}/{raw}/"


def events(name):
    return list(db.session.scalars(select(AuditLogEntry).where(AuditLogEntry.event == name)))


def gone(member_id):
    db.session.expire_all()
    return db.session.get(OrganizationMember, member_id) is None


# --- the inbox ------------------------------------------------------------------------------------


def test_inbox_lists_live_invites_to_my_addresses_in_every_organization(client, org, inviter):
    other = make_org("Beta", slug="beta")
    me = make_user("me@example.com")
    db.session.add_all(
        [
            UserEmail(user_id=me.id, email="work@example.com", is_verified=True),
            UserEmail(user_id=me.id, email="unproven@example.com", is_verified=False),
        ]
    )
    db.session.commit()
    a, _ = make_invite(org, "me@example.com", inviter=inviter, role="admin")
    b, _ = make_invite(other, "work@example.com")
    hidden = [
        make_invite(org, "unproven@example.com")[0],
        make_invite(other, "me@example.com", expired=True)[0],
        make_invite(org, "someone@example.com")[0],
        make_invite(make_org("Gamma", slug="gamma"), "me@example.com", status=1)[0],  # a request
    ]
    login(client, "me@example.com")
    page = client.get("/account/invites/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    for m in (a, b):
        assert f'id="invite-accept-{m.id}"' in html and f'id="invite-decline-{m.id}"' in html
        assert f'action="/account/invites/{m.id}/accept/"' in html
    assert "Boss invited" in html and "Admin" in html
    for m in hidden:
        assert f'id="invite-accept-{m.id}"' not in html

    api = client.get("/api/0/users/me/invites/").get_json()
    assert sorted(i["id"] for i in api) == sorted([str(a.id), str(b.id)])
    first = next(i for i in api if i["id"] == str(a.id))
    assert first["organization"] == {"slug": "acme", "name": "Acme"} and first["role"] == "admin"
    assert first["pending"] is True and first["inviteStatus"] == "approved"


def test_inbox_needs_a_signed_in_user(client):
    assert client.get("/api/0/users/me/invites/").status_code == 401
    assert client.get("/account/invites/").status_code in (302, 303)


def test_accept_from_the_inbox_lands_in_the_organization(client, org, inviter):
    me = make_user("me@example.com")
    member, _ = make_invite(org, "me@example.com", inviter=inviter)
    login(client, "me@example.com")
    client.get("/organizations/acme/")  # whatever sign-in said is read
    resp = client.post(f"/account/invites/{member.id}/accept/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    assert "You have been added to the Acme organization." in client.get("/organizations/acme/").get_data(
        as_text=True
    )
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).user_id == me.id
    assert len(events("member.accept-invite")) == 1


def test_nobody_accepts_or_declines_someone_elses_invite_from_the_inbox(client, org, inviter):
    make_user("me@example.com")
    member, _ = make_invite(org, "alice@example.com", inviter=inviter)
    login(client, "me@example.com")
    assert client.post(f"/account/invites/{member.id}/decline/").status_code == 404
    resp = client.post(f"/account/invites/{member.id}/accept/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/invites/"
    db.session.expire_all()
    row = db.session.get(OrganizationMember, member.id)
    assert row is not None and row.user_id is None


# --- declining ------------------------------------------------------------------------------------


def _assert_declined(app, member_id, actor_id):
    assert gone(member_id)
    [entry] = events("member.decline-invite")
    assert entry.actor_id == actor_id and entry.data["email"]
    mails = [m for m in sent_mail(app) if m["To"] == "boss@example.com"]
    assert len(mails) == 1 and "declined" in mails[0]["Subject"]


def test_decline_from_the_inbox(app, client, org, inviter):
    me = make_user("me@example.com")
    member, _ = make_invite(org, "me@example.com", inviter=inviter)
    login(client, "me@example.com")
    resp = client.post(f"/account/invites/{member.id}/decline/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/account/invites/"
    assert "You declined the invitation to join Acme." in client.get("/account/invites/").get_data(
        as_text=True
    )
    _assert_declined(app, member.id, me.id)


def test_decline_from_the_link_signed_out(app, client, org, inviter):
    member, raw = make_invite(org, "new@example.com", inviter=inviter)
    page = client.get(path(member, raw)).get_data(as_text=True)
    assert 'id="decline-form"' in page and f'action="{path(member, raw)}decline/"' in page
    resp = client.post(f"{path(member, raw)}decline/")
    assert resp.status_code == 303
    _assert_declined(app, member.id, None)
    with client.session_transaction() as sess:
        assert "invite_member_id" not in sess
    assert client.get(path(member, raw)).status_code == 404  # the link is dead now


def test_decline_from_the_link_as_someone_else_changes_nothing(client, org, inviter):
    make_user("bob@example.com")
    member, raw = make_invite(org, "alice@example.com", inviter=inviter)
    login(client, "bob@example.com")
    assert 'id="decline-form"' not in client.get(path(member, raw)).get_data(as_text=True)
    assert client.post(f"{path(member, raw)}decline/").status_code == 403
    assert not gone(member.id) and events("member.decline-invite") == []


# --- the notice after sign-in ----------------------------------------------------------------------


def test_sign_in_announces_waiting_invites(client, org, inviter):
    me = make_user("me@example.com")
    make_member(make_org("Home", slug="home"), me)
    make_invite(org, "me@example.com", inviter=inviter)
    resp = login(client, "me@example.com")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert 'id="pending-invites-notice"' in html and 'href="/account/invites/"' in html


def test_no_notice_without_invites(client, org):
    make_user("me@example.com")
    resp = login(client, "me@example.com")
    assert 'id="pending-invites-notice"' not in client.get(resp.headers["Location"]).get_data(as_text=True)


# --- alias-aware matching ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("Bob.Smith+x@Example.com", "bob.smith@example.com"),
        ("b.o.b+1@googlemail.com", "bob@gmail.com"),
        ("B.O.B@GMAIL.com", "bob@gmail.com"),
        ("first.last@example.org", "first.last@example.org"),
        ("+only@example.com", "+only@example.com"),
    ],
)
def test_match_key(typed, key):
    assert match_key(typed) == key


@pytest.fixture
def manager(client, org):
    user = make_user("mgr@example.com")
    make_member(org, user, role="manager")
    login(client, "mgr@example.com")
    return user


def invite(client, emails):
    return client.post("/organizations/acme/members/", data={"emails": emails, "role": "member"})


def test_an_alias_of_an_invited_address_is_a_duplicate(client, org, manager):
    make_invite(org, "bob.smith@example.com")
    make_invite(org, "bob@gmail.com")
    resp = invite(client, "Bob.Smith+x@Example.com\nb.o.b+1@googlemail.com")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert "bob.smith+x@example.com has already been invited (as bob.smith@example.com)." in html
    assert "b.o.b+1@googlemail.com has already been invited (as bob@gmail.com)." in html
    assert "Resend the invite" in html


def test_an_alias_of_a_member_is_already_a_member(client, org, manager):
    make_member(org, make_user("carol@gmail.com"))
    resp = invite(client, "c.a.r.o.l+team@googlemail.com")
    assert "is already a member of this organization (as carol@gmail.com)." in resp.get_data(as_text=True)


def test_aliases_in_one_form_are_one_address_kept_as_typed(client, org, manager):
    resp = invite(client, "Dana.Lee+a@Example.com, dana.lee+b@example.com")
    assert resp.status_code == 303
    rows = db.session.scalars(select(OrganizationMember).where(OrganizationMember.email.like("dana%"))).all()
    assert [r.email for r in rows] == ["dana.lee+a@example.com"]  # the address as typed is mailed


def test_aliases_share_the_daily_limit_of_their_mailbox(client, org, manager):
    for _ in range(sending.LIMIT_PER_EMAIL.limit):
        ratelimit.hit(sending.LIMIT_PER_EMAIL, f"{org.id}:spam@gmail.com")
    resp = invite(client, "s.p.a.m+1@googlemail.com")
    assert "Too many invites were sent today" in resp.get_data(as_text=True)
