"""``/account/settings/delete/``: what goes at once, what stays, and the sole-owner refusal."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.accounts.models import User, UserEmail, UserSession
from onboarding.audit.models import AuditLogEntry
from onboarding.avatars.models import AvatarUpload, UserAvatar
from onboarding.extensions import db
from onboarding.orgs.models import AuthIdentity, OrganizationMember, OrganizationMemberTeam
from onboarding.selfservice.models import AccountToken
from onboarding.tokens import service as tokens
from onboarding.tokens.models import ApiToken
from onboarding.twofactor.models import Authenticator, RecoveryCode
from tests.deletion_helpers import HX, count, file_exists, give_avatar, stored
from tests.factories import (
    PASSWORD,
    login,
    make_invite,
    make_member,
    make_org,
    make_provider,
    make_team,
    make_user,
)
from tests.twofactor_helpers import enroll

URL = "/account/settings/delete/"


@pytest.fixture
def settings():
    return {"SINGLE_ORGANIZATION": False, "ALLOW_REGISTRATION": True}


def signed_in(app, email):
    c = app.test_client()
    assert login(c, email).status_code == 303
    return c


def test_page_needs_sign_in_and_shows_the_form(app, client):
    assert client.get(URL).status_code == 302
    make_user("a@example.com")
    page = signed_in(app, "a@example.com").get(URL).get_data(as_text=True)
    assert 'id="account-delete-form"' in page and 'name="password"' in page
    assert "a@example.com" in page


def test_settings_page_links_to_it(app):
    make_user("a@example.com")
    page = signed_in(app, "a@example.com").get("/account/settings/").get_data(as_text=True)
    assert f'href="{URL}"' in page


def test_wrong_or_missing_password_is_422_and_nothing_goes(app):
    user = make_user("a@example.com")
    c = signed_in(app, "a@example.com")
    resp = c.post(URL, data={"password": "wrong password"})
    assert resp.status_code == 422 and "The password is incorrect." in resp.get_data(as_text=True)
    assert c.post(URL, data={"password": ""}).status_code == 422
    assert count(User, User.id == user.id) == 1
    assert c.get("/account/settings/").status_code == 200  # still signed in


def test_failed_passwords_are_throttled_like_sign_in(app, settings):
    make_user("a@example.com")
    c = signed_in(app, "a@example.com")
    limit = app.config["LOGIN_FAILURES_PER_EMAIL"]
    for _ in range(limit):
        assert c.post(URL, data={"password": "nope"}).status_code == 422
    resp = c.post(URL, data={"password": PASSWORD})
    assert resp.status_code == 429 and count(User) == 1


def test_account_without_a_password_is_told_how_to_get_one(app):
    user = make_user("a@example.com")
    c = signed_in(app, "a@example.com")
    user = db.session.get(User, user.id)
    user.password_hash = None
    db.session.commit()
    assert "has no password to confirm with" in c.get(URL).get_data(as_text=True)
    resp = c.post(URL, data={"password": "anything at all"})
    assert resp.status_code == 422 and "has no password to confirm with" in resp.get_data(as_text=True)
    assert count(User) == 1


def test_sole_owner_is_refused_with_the_organizations_named(app):
    user = make_user("a@example.com")
    other = make_user("b@example.com")
    acme, beta, shared = make_org("Acme"), make_org("Beta Corp"), make_org("Shared")
    make_member(acme, user, "owner")
    make_member(beta, user, "owner")
    make_member(beta, other, "manager")  # a manager is not an owner
    make_member(shared, user, "owner")
    make_member(shared, other, "owner")
    c = signed_in(app, "a@example.com")
    page = c.get(URL).get_data(as_text=True)
    assert 'id="sole-owner"' in page and "Acme" in page and "Beta Corp" in page
    resp = c.post(URL, data={"password": PASSWORD})
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422
    assert (
        "You are the only owner of Acme, Beta Corp." in body and "Shared" not in body.split("sole-owner")[1]
    )
    assert (
        count(User, User.id == user.id) == 1
        and count(AuditLogEntry, AuditLogEntry.event == "user.delete") == 0
    )
    # Once another owner exists, the same request goes through.
    make_member(acme, other, "owner")
    db.session.get(
        OrganizationMember,
        db.session.scalar(
            select(OrganizationMember.id).where(
                OrganizationMember.organization_id == beta.id, OrganizationMember.user_id == other.id
            )
        ),
    ).role = "owner"
    db.session.commit()
    assert c.post(URL, data={"password": PASSWORD}).status_code == 303
    assert count(User, User.id == user.id) == 0


def test_an_organization_already_being_deleted_does_not_block(app):
    from onboarding.orgs.models import OrgStatus

    user = make_user("a@example.com")
    org = make_org("Leaving")
    make_member(org, user, "owner")
    org.status = OrgStatus.PENDING_DELETION
    db.session.commit()
    assert signed_in(app, "a@example.com").post(URL, data={"password": PASSWORD}).status_code == 303


def test_everything_of_the_account_goes_at_once_and_audit_entries_stay(app, client):
    user = make_user("gone@example.com", name="Gone")
    keeper = make_user("keeper@example.com", name="Keeper")
    org, elsewhere = make_org("Acme"), make_org("Elsewhere")
    make_member(org, keeper, "owner")
    member = make_member(org, user, "manager")
    make_member(elsewhere, keeper, "owner")
    team = make_team(org, "Core")
    db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=member.id))
    provider = make_provider(org, required=False)
    db.session.add(AuthIdentity(user_id=user.id, auth_provider_id=provider.id, ident="sub-1"))
    db.session.add(UserEmail(user_id=user.id, email="alias@example.com", is_verified=True))
    db.session.commit()
    invite_to_them, _ = make_invite(elsewhere, "alias@example.com", inviter=keeper)
    invite_id = invite_to_them.id
    invite_to_other, _ = make_invite(elsewhere, "someone@example.com", inviter=keeper)
    invite_by_them, _ = make_invite(org, "friend@example.com", inviter=user)
    other_browser, this_browser = signed_in(app, "gone@example.com"), signed_in(app, "gone@example.com")
    _, raw_token = tokens.create_token(user, "script", ["org:read"])
    db.session.commit()
    enroll(user)
    own_file, own_blobs, own_paths = give_avatar("user", user.id, (10, 20, 30))
    kept_file, kept_blobs, kept_paths = give_avatar("user", keeper.id, (90, 90, 90))
    db.session.add(AvatarUpload(kind="user", owner_id=user.id, data=b"waiting", status="failed"))
    db.session.commit()
    uid, member_id = user.id, member.id
    assert count(UserSession, UserSession.user_id == uid) == 2 and count(Authenticator) == 1
    assert count(RecoveryCode) > 0 and count(AuditLogEntry, AuditLogEntry.actor_id == uid) > 0
    acted = count(AuditLogEntry, AuditLogEntry.actor_id == uid)
    auth = {"Authorization": f"Bearer {raw_token}"}
    assert client.get(f"/api/0/organizations/{org.slug}/", headers=auth).status_code == 200

    resp = this_browser.post(URL, data={"password": PASSWORD})

    assert resp.status_code == 303 and resp.headers["Location"] == "/auth/login/"
    assert "Your account has been deleted" in this_browser.get("/auth/login/").get_data(as_text=True)
    # Gone: the user, every session (the other browser is signed out), the token, second factors,
    # emails, memberships and team links, SSO identity, account tokens, invites to their addresses,
    # their avatar with its file and the blob nothing else used, and waiting uploads.
    assert count(User, User.id == uid) == 0
    assert other_browser.get("/account/settings/").status_code == 302
    assert this_browser.get("/account/settings/").status_code == 302
    assert client.get(f"/api/0/organizations/{org.slug}/", headers=auth).status_code == 401
    for model, where in (
        (UserSession, UserSession.user_id == uid),
        (ApiToken, ApiToken.user_id == uid),
        (Authenticator, Authenticator.user_id == uid),
        (RecoveryCode, None),
        (UserEmail, UserEmail.user_id == uid),
        (OrganizationMember, OrganizationMember.user_id == uid),
        (OrganizationMemberTeam, OrganizationMemberTeam.member_id == member_id),
        (AuthIdentity, AuthIdentity.user_id == uid),
        (AccountToken, AccountToken.user_id == uid),
        (UserAvatar, UserAvatar.user_id == uid),
        (AvatarUpload, AvatarUpload.owner_id == uid),
        (OrganizationMember, OrganizationMember.id == invite_id),
    ):
        assert count(model, *([where] if where is not None else [])) == 0, model
    assert not file_exists(own_file) and not any(stored(p) for p in own_paths)
    # Kept: the other user's picture, an invite to someone else, an invite they sent (inviter cleared),
    # every audit entry they made (actor now a deleted user), and a user.delete entry per organization.
    assert file_exists(kept_file) and all(stored(p) for p in kept_paths)
    assert count(OrganizationMember, OrganizationMember.id.in_([invite_to_other.id, invite_by_them.id])) == 2
    assert db.session.get(OrganizationMember, invite_by_them.id).inviter_id is None
    assert count(AuditLogEntry, AuditLogEntry.actor_deleted.is_(True)) == acted + 2
    assert count(AuditLogEntry, AuditLogEntry.actor_label == "gone@example.com") == 0
    [in_org] = db.session.scalars(
        select(AuditLogEntry).where(
            AuditLogEntry.event == "user.delete", AuditLogEntry.organization_id == org.id
        )
    ).all()
    assert in_org.actor_id is None and in_org.data == {"role": "manager"} and in_org.target_object == uid
    assert (
        count(AuditLogEntry, AuditLogEntry.event == "user.delete", AuditLogEntry.organization_id.is_(None))
        == 1
    )
    assert (
        count(
            AuditLogEntry, AuditLogEntry.event == "user.delete", AuditLogEntry.organization_id == elsewhere.id
        )
        == 0
    )
    # The audit log, on the page and in the API, shows them as a deleted user.
    keeper_browser = signed_in(app, "keeper@example.com")
    page = keeper_browser.get(f"/organizations/{org.slug}/audit-log/").get_data(as_text=True)
    assert "Deleted user" in page and "gone@example.com" not in page
    entries = keeper_browser.get(f"/api/0/organizations/{org.slug}/audit-logs/").get_json()
    assert entries[0]["event"] == "user.delete"
    assert entries[0]["actor"] == {"id": None, "name": "Deleted user"}
    assert {e["event"] for e in entries if e["actor"] == {"id": None, "name": "Deleted user"}} >= {
        "user.delete"
    }
    # The address is free: registering with it again works.
    resp = client.post(
        "/auth/login/",
        data={
            "op": "register",
            "name": "Back",
            "username": "gone@example.com",
            "password": "another fine passphrase",
        },
    )
    assert resp.status_code == 303
    assert db.session.scalar(select(User).where(User.email == "gone@example.com")).id != uid


def test_a_blob_shared_with_another_file_survives(app):
    user, other = make_user("a@example.com"), make_user("b@example.com")
    own_file, blobs, paths = give_avatar("user", user.id, (7, 7, 7))
    other_file, other_blobs, _ = give_avatar("user", other.id, (7, 7, 7))  # the same picture
    assert blobs == other_blobs and own_file != other_file
    assert signed_in(app, "a@example.com").post(URL, data={"password": PASSWORD}).status_code == 303
    assert not file_exists(own_file) and file_exists(other_file)
    assert all(stored(p) for p in paths)
    avatar = db.session.scalar(select(UserAvatar).where(UserAvatar.user_id == other.id))
    assert app.test_client().get(f"/avatar/{avatar.ident}/").status_code == 200


def test_htmx_errors_swap_the_form_and_success_redirects(app):
    make_user("a@example.com")
    c = signed_in(app, "a@example.com")
    resp = c.post(URL, data={"password": "wrong"}, headers=HX)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 422 and body.lstrip().startswith('<div id="account-delete">')
    assert "<html" not in body and "The password is incorrect." in body
    resp = c.post(URL, data={"password": PASSWORD}, headers=HX)
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/auth/login/"
    assert count(User) == 0


def test_organizations_webhooks_hear_member_removed(app, settings):
    import json

    from tests.webhook_helpers import Receiver, add_endpoint

    app.config["WEBHOOK_ALLOW_PRIVATE"] = True  # the receiver listens on loopback
    owner, user = make_user("owner@example.com"), make_user("a@example.com")
    org = make_org("Acme")
    make_member(org, owner, "owner")
    make_member(org, user, "member")
    c = signed_in(app, "a@example.com")
    with Receiver() as receiver:
        add_endpoint(org, owner, receiver.url, ["member.removed"])
        assert c.post(URL, data={"password": PASSWORD}).status_code == 303
    [event] = [json.loads(r.body) for r in receiver.received]
    assert event["type"] == "member.removed" and event["data"]["member"]["email"] == "a@example.com"
