"""The invite landing page and accepting (spec §1.4–§1.5, with the contract's deliberate differences)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User, UserEmail
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.invites import tokens
from onboarding.orgs.models import OrganizationMember
from onboarding.orgs.onboarding_tasks import TaskStatus, get_task
from onboarding.outbox.models import OutboxMessage, OutboxReceipt
from tests.factories import (
    PASSWORD,
    default_org,
    login,
    make_invite,
    make_member,
    make_org,
    make_team,
    make_user,
    sent_mail,
)

INVALID = "The invite link you followed is not valid, or has expired."


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


def assert_invalid(resp, status=404):
    assert resp.status_code == status
    body = resp.get_data(as_text=True)
    assert INVALID in body
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    return body


# --- bad links: one page, one message, never a 500 ---------------------------------------------------


@pytest.mark.parametrize(
    "suffix",
    [
        "1/not-a-real-token-but-long-enough/",
        "999999/{raw}/",
        "abc/{raw}/",
        "{id}/short/",
        "{id}/" + "a" * 3000 + "/",  # longer request targets get 414 before routing (web/security.py)
        "{id}/t%C3%B6ken-with-non-ascii-characters/",
        "{id}/token%00with-a-nul-character-1234/",
        "{id}/{raw}x/",
        "99999999999999999999999/{raw}/",
        # mangled by a mail client or cut short: an encoded slash, extra segments, missing parts
        "{id}/{raw_head}%2F{raw_tail}/",
        "{id}/{raw_head}/{raw_tail}/",
        "{id}/{raw}/extra/",
        "{id}/",
        "",
    ],
)
def test_bad_links_get_the_same_page(client, org, suffix):
    member, raw = make_invite(org)
    resp = client.get("/accept/" + suffix.format(id=member.id, raw=raw, raw_head=raw[:20], raw_tail=raw[20:]))
    body = assert_invalid(resp)
    assert "Ask for a new invite" not in body
    assert org.name not in body  # a bad link does not reveal the organization


def test_a_link_without_its_final_slash_still_works(client, org):
    member, raw = make_invite(org)
    resp = client.get(f"/accept/{member.id}/{raw}")
    assert resp.status_code == 308 and resp.headers["Location"].endswith(f"/accept/{member.id}/{raw}/")
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert client.get(f"/accept/{member.id}/{raw}/").status_code == 200


def test_used_revoked_and_unapproved_invites_are_invalid(client, org, inviter):
    used, used_raw = make_invite(org, "used@example.com")
    user = make_user("used@example.com")
    login(client, "used@example.com")
    assert client.post(path(used, used_raw)).status_code == 303
    assert_invalid(client.get(path(used, used_raw)))

    revoked, revoked_raw = make_invite(org, "revoked@example.com")
    db.session.delete(db.session.get(OrganizationMember, revoked.id))
    db.session.commit()
    assert_invalid(client.get(f"/accept/{revoked.id}/{revoked_raw}/"))

    requested, _ = make_invite(org, "req@example.com", status=1)
    assert_invalid(client.get(f"/accept/{requested.id}/{tokens.new_token()[0]}/"))
    del user


def test_token_is_stored_only_as_hash(org):
    member, raw = make_invite(org)
    assert raw not in str(db.session.execute(select(OrganizationMember.__table__)).all())
    assert member.token_hash == tokens.hash_token(raw)


def test_token_of_one_org_never_joins_another(client, org):
    other = make_org("Other", slug="other")
    member_a, raw_a = make_invite(org, "x@example.com")
    member_b, _ = make_invite(other, "x@example.com")
    assert_invalid(client.get(f"/accept/{member_b.id}/{raw_a}/"))
    make_user("x@example.com")
    login(client, "x@example.com")
    assert_invalid(client.post(f"/accept/{member_b.id}/{raw_a}/"))
    assert db.session.query(OrganizationMember).filter_by(organization_id=other.id).one().user_id is None
    del member_a


def test_expired_genuine_link_offers_renewal(client, org, inviter):
    member, raw = make_invite(org, "late@example.com", expired=True, inviter=inviter)
    body = assert_invalid(client.get(path(member, raw)), status=410)
    assert "Ask for a new invite" in body
    resp = client.post(path(member, raw) + "renew/")
    assert "asked the organization" in resp.get_data(as_text=True)
    notes = [m for m in sent_mail(client.application) if m["To"] == "boss@example.com"]
    assert len(notes) == 1 and "late@example.com" in notes[0]["Subject"]
    client.post(path(member, raw) + "renew/")  # asking twice tells the managers once
    assert len([m for m in sent_mail(client.application) if m["To"] == "boss@example.com"]) == 1
    # a forged token for the same member cannot ask
    assert client.post(f"/accept/{member.id}/{tokens.new_token()[0]}/renew/").status_code == 404


# --- anonymous visitor: the invite goes into the session ---------------------------------------------


def test_anonymous_get_keeps_invite_in_session(client, org, inviter):
    member, raw = make_invite(org, "new@example.com", inviter=inviter)
    resp = client.get(path(member, raw))
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Referrer-Policy"] == "no-referrer"
    assert "Create an account" in body and "new@example.com" in body and "Acme" in body
    with client.session_transaction() as sess:
        assert sess["invite_member_id"] == member.id and sess["invite_token"] == raw
        assert sess["invite_organization_id"] == org.id and sess["invite_email"] == "new@example.com"
        assert sess["can_register"] is True


def test_register_through_invite_accepts_and_lands(client, org, inviter):
    team = make_team(org)
    member, raw = make_invite(org, "new@example.com", inviter=inviter)
    db.session.add(
        __import__("onboarding.orgs.models", fromlist=["x"]).OrganizationMemberTeam(
            team_id=team.id, member_id=member.id
        )
    )
    db.session.commit()
    client.get(path(member, raw))
    page = client.get("/auth/register/").get_data(as_text=True)
    assert 'value="new@example.com"' in page and "readonly" in page
    resp = client.post(
        "/auth/register/",
        data={
            "op": "register",
            "name": "New",
            "username": "new@example.com",
            "password": "a sturdy passphrase",
        },
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    home = client.get("/organizations/acme/").get_data(as_text=True)
    assert "You have been added to the Acme organization." in home
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    joined = db.session.get(OrganizationMember, member.id)
    assert joined.user_id == user.id and joined.email is None and joined.token_hash is None
    assert [t.slug for t in joined.teams] == [team.slug]
    assert db.session.scalar(select(UserEmail).where(UserEmail.user_id == user.id)).is_verified
    # not also added to the default organization
    assert db.session.query(OrganizationMember).filter_by(user_id=user.id).count() == 1
    with client.session_transaction() as sess:
        assert "invite_token" not in sess and "can_register" not in sess


def test_register_through_invite_cannot_change_email(client, org):
    member, raw = make_invite(org, "new@example.com")
    client.get(path(member, raw))
    resp = client.post(
        "/auth/register/",
        data={
            "op": "register",
            "name": "X",
            "username": "evil@example.com",
            "password": "a sturdy passphrase",
        },
    )
    assert resp.status_code == 422
    assert db.session.query(User).filter_by(email="evil@example.com").count() == 0


def test_sign_in_resumes_the_invite(client, org):
    member, raw = make_invite(org, "old@example.com")
    user = make_user("old@example.com")
    client.get(path(member, raw))
    resp = login(client, "old@example.com")
    assert resp.headers["Location"] == "/organizations/acme/"
    assert db.session.get(OrganizationMember, member.id).user_id == user.id
    assert "You have been added to the Acme organization." in client.get("/organizations/acme/").get_data(
        as_text=True
    )


# --- signed-in visitor --------------------------------------------------------------------------------


def test_accept_as_signed_in_user(client, org, inviter):
    member, raw = make_invite(org, "me@example.com", inviter=inviter, role="manager")
    user = make_user("me@example.com")
    login(client, "me@example.com", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    resp = client.post(
        path(member, raw),
        data={"role": "owner", "organization": "other", "email": "x@y.z"},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    joined = db.session.get(OrganizationMember, member.id)
    assert joined.user_id == user.id and joined.role == "manager"  # tampered fields changed nothing
    entry = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "member.accept-invite"))
    assert entry.organization_id == org.id and entry.actor_id == user.id and entry.target_user_id == user.id
    assert entry.target_object == member.id and entry.ip_address == "198.51.100.7"
    assert entry.data["role"] == "manager" and entry.data["invite_status"] == "approved"
    # the member-joined signal ran (inline in tests): onboarding task complete, inviter told, outbox empty
    task = get_task(org.id, "invite_member")
    assert task is not None and task.status == TaskStatus.COMPLETE
    assert task.data == {"invited_member_id": member.id}
    assert db.session.query(OutboxMessage).count() == 0
    joined_mail = [m for m in sent_mail(client.application) if m["To"] == "boss@example.com"]
    assert len(joined_mail) == 1 and "joined Acme" in joined_mail[0]["Subject"]
    home = client.get("/organizations/acme/").get_data(as_text=True)
    assert "You have been added to the Acme organization." in home
    assert "(done)" in home


def test_htmx_accept_uses_hx_redirect(client, org):
    member, raw = make_invite(org, "me@example.com")
    make_user("me@example.com")
    login(client, "me@example.com")
    resp = client.post(path(member, raw), headers={"HX-Request": "true"})
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/organizations/acme/"


def test_email_mismatch_is_not_silently_joined(client, org):
    member, raw = make_invite(org, "invited@example.com")
    make_user("someone.else@example.com")
    login(client, "someone.else@example.com")
    page = client.get(path(member, raw)).get_data(as_text=True)
    assert "This invite was sent to <strong>invited@example.com</strong>" in page
    assert "Sign out and continue" in page
    resp = client.post(path(member, raw))
    assert resp.status_code == 403
    assert db.session.get(OrganizationMember, member.id).user_id is None
    # switching account keeps the invite
    out = client.post(f"/auth/logout/?next={path(member, raw)}")
    assert out.status_code == 303
    make_user("invited@example.com")
    assert login(client, "invited@example.com").headers["Location"] == "/organizations/acme/"


def test_verified_secondary_email_may_accept(client, org):
    member, raw = make_invite(org, "work@example.com")
    user = make_user("home@example.com")
    db.session.add(UserEmail(user_id=user.id, email="work@example.com", is_verified=True))
    db.session.commit()
    login(client, "home@example.com")
    assert client.post(path(member, raw)).status_code == 303


def test_member_cannot_destroy_an_invite_sent_to_someone_else(client, org):
    """Bug 1: Bob, already a member, opens Alice's forwarded link: the address comes first."""
    bob = make_user("bob@example.com")
    make_member(org, bob)
    member, raw = make_invite(org, "alice@example.com")
    login(client, "bob@example.com")
    page = client.get(path(member, raw))
    assert page.status_code == 403
    html = page.get_data(as_text=True)
    assert "This invite was sent to <strong>alice@example.com</strong>" in html
    assert "discard this invite" not in html
    assert client.post(path(member, raw)).status_code == 403
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).email == "alice@example.com"
    events = [e.event for e in db.session.scalars(select(AuditLogEntry))]
    assert "member.accept-invite" not in events


def test_already_member_is_told_and_own_duplicate_deleted(client, org):
    """The owner of the address, already a member, may discard the invite (Sentry's clean-up)."""
    user = make_user("me@example.com")
    make_member(org, user)
    member, raw = make_invite(org, "me2@example.com")
    db.session.add(UserEmail(user_id=user.id, email="me2@example.com", is_verified=True))
    db.session.commit()
    login(client, "me@example.com")
    assert "already a member" in client.get(path(member, raw)).get_data(as_text=True)
    resp = client.post(path(member, raw))
    assert resp.status_code == 303
    assert "You are already a member of the Acme organization." in client.get(
        "/organizations/acme/"
    ).get_data(as_text=True)
    assert db.session.get(OrganizationMember, member.id) is None


def test_removed_member_cannot_rejoin_with_old_link(client, org):
    member, raw = make_invite(org, "me@example.com")
    user = make_user("me@example.com")
    login(client, "me@example.com")
    client.post(path(member, raw))
    db.session.delete(db.session.get(OrganizationMember, member.id))
    db.session.commit()
    assert_invalid(client.post(path(member, raw)))
    assert (
        db.session.query(OrganizationMember).filter_by(user_id=user.id, organization_id=org.id).count() == 0
    )


def test_anonymous_post_goes_to_sign_in(client, org):
    member, raw = make_invite(org)
    resp = client.post(path(member, raw))
    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"
    assert db.session.get(OrganizationMember, member.id).user_id is None


def test_needs_2fa_and_sso_are_shown(client, org):
    from onboarding.orgs.models import OrgFlags
    from tests.factories import make_provider

    member, raw = make_invite(org, "me@example.com")
    make_user("me@example.com")
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    login(client, "me@example.com")
    assert "requires two-factor authentication" in client.get(path(member, raw)).get_data(as_text=True)
    assert client.post(path(member, raw)).status_code == 403
    org = db.session.get(type(org), org.id)
    org.set_flag(OrgFlags.REQUIRE_2FA, False)
    db.session.commit()
    make_provider(org, required=True)
    assert "requires single sign-on" in client.get(path(member, raw)).get_data(as_text=True)
    assert client.post(path(member, raw)).status_code == 403
    assert db.session.get(OrganizationMember, member.id).user_id is None


def test_receipts_make_receivers_run_once(client, org, inviter):
    from onboarding.outbox.service import deliver

    member, raw = make_invite(org, "me@example.com", inviter=inviter)
    make_user("me@example.com")
    login(client, "me@example.com")
    client.post(path(member, raw))
    receipts = db.session.query(OutboxReceipt).all()
    assert {r.receiver for r in receipts} >= {"onboarding_task", "notify_inviter"}
    assert deliver(receipts[0].message_id) is False  # already delivered: nothing happens again


def test_default_org_unaffected_by_invite_registration(client):
    # single-organization mode: an invitee of the default org joins once, with the invite's role
    member, raw = make_invite(default_org(), "d@example.com", role="admin")
    client.get(path(member, raw))
    client.post(
        "/auth/register/",
        data={"op": "register", "name": "D", "username": "d@example.com", "password": PASSWORD},
    )
    rows = db.session.query(OrganizationMember).filter_by(organization_id=default_org().id).all()
    assert len(rows) == 1 and rows[0].role == "admin"
