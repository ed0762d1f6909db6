"""Inviting from the members page and the API: per-email answers, limits, roles, resend, revoke, requests."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.invites import tokens
from onboarding.invites.models import OrganizationInviteStats
from onboarding.orgs.models import InviteStatus, OrganizationMember
from tests.factories import (
    link_in,
    login,
    make_invite,
    make_member,
    make_org,
    make_team,
    make_user,
    sent_mail,
)


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def signed_in(client, org, role="manager", email="mgr@example.com"):
    user = make_user(email, name=role.title())
    make_member(org, user, role=role)
    login(client, email)
    return user


def invite(client, emails, role="member", teams=(), htmx=False):
    return client.post(
        "/organizations/acme/members/",
        data={"emails": emails, "role": role, "teams": [str(t) for t in teams]},
        headers={"HX-Request": "true"} if htmx else {},
    )


def pending(org, email):
    return db.session.scalar(
        select(OrganizationMember).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.email == email
        )
    )


def test_members_page_lists_members_and_invites(client, org):
    signed_in(client, org)
    make_invite(org, "waiting@example.com")
    make_invite(org, "late@example.com", expired=True)
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert 'id="invite-form"' in page and 'name="emails"' in page and 'name="role"' in page
    assert "waiting@example.com" in page and "late@example.com" in page
    assert ">expired<" in page and ">pending<" in page


def test_invite_several_emails_sends_mail_with_base_url_link(client, org):
    team = make_team(org, "Core")
    user = signed_in(client, org)
    resp = invite(client, "a@example.com, B@Example.com\nc@example.com", teams=[team.id])
    assert resp.status_code == 303
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "Invited a@example.com." in page and "Invited b@example.com." in page
    for email in ("a@example.com", "b@example.com", "c@example.com"):
        member = pending(org, email)
        assert member.inviter_id == user.id and [t.slug for t in member.teams] == ["core"]
        assert member.token_hash and len(member.token_hash) == 64
    messages = sent_mail(client.application)
    assert sorted(m["To"] for m in messages) == ["a@example.com", "b@example.com", "c@example.com"]
    link = link_in(messages[0])
    assert link.startswith("http://onboarding.test/accept/")
    assert messages[0].get_body(("html",)) is not None
    raw = link.rstrip("/").rsplit("/", 1)[1]
    assert any(
        tokens.matches(raw, pending(org, e).token_hash)
        for e in ("a@example.com", "b@example.com", "c@example.com")
    )
    events = [e.event for e in db.session.scalars(select(AuditLogEntry))]
    assert events.count("member.invite") == 3
    from onboarding import buffer

    buffer.flush()
    assert db.session.get(OrganizationInviteStats, org.id).invites_sent == 3


def test_per_email_answers_and_nothing_lost(client, org):
    signed_in(client, org)
    existing = make_user("member@example.com")
    make_member(org, existing)
    make_invite(org, "invited@example.com")
    resp = invite(client, "ok@example.com\nnot-an-email\nmember@example.com\ninvited@example.com")
    assert resp.status_code == 200  # bug 5: some were invited, so it is a success listing each outcome
    body = resp.get_data(as_text=True)
    assert "Invited ok@example.com." in body
    assert "not-an-email is not a valid email address." in body
    assert "member@example.com is already a member of this organization." in body
    assert "invited@example.com has already been invited." in body and "Resend the invite" in body
    # the addresses that still need attention stay in the box
    assert ">not-an-email\nmember@example.com\ninvited@example.com</textarea>" in body
    assert pending(org, "ok@example.com") is not None


def test_htmx_invite_swaps_region(client, org):
    signed_in(client, org)
    resp = invite(client, "x@example.com", htmx=True)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "<html" not in body and 'id="invites-region"' in body
    assert "x@example.com" in body and "HX-Request" in resp.vary


def test_role_above_own_is_refused(client, org):
    signed_in(client, org, role="manager")
    resp = invite(client, "boss@example.com", role="owner")
    assert resp.status_code == 422
    assert "You do not have permission to invite a member with the role owner." in resp.get_data(as_text=True)
    assert pending(org, "boss@example.com") is None


def test_members_cannot_invite_but_may_request(client, org):
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    signed_in(client, org, role="member", email="plain@example.com")
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "Ask for someone to be invited" in page
    resp = invite(client, "friend@example.com")
    assert resp.status_code == 303
    row = pending(org, "friend@example.com")
    assert row.invite_status == InviteStatus.REQUESTED_TO_BE_INVITED and row.token_hash is None
    assert [m["To"] for m in sent_mail(client.application)] == ["owner@example.com"]
    assert client.post(f"/organizations/acme/members/{row.id}/approve/").status_code == 403


def test_approve_and_reject_requests(client, org):
    signed_in(client, org)
    req, _ = make_invite(org, "asker@example.com", status=InviteStatus.REQUESTED_TO_JOIN)
    req2, _ = make_invite(org, "asker2@example.com", status=InviteStatus.REQUESTED_TO_BE_INVITED)
    assert client.post(f"/organizations/acme/members/{req.id}/approve/").status_code == 303
    approved = db.session.get(OrganizationMember, req.id)
    assert approved.invite_status == InviteStatus.APPROVED and approved.token_hash
    assert [m["To"] for m in sent_mail(client.application)] == ["asker@example.com"]
    assert client.post(f"/organizations/acme/members/{req2.id}/reject/").status_code == 303
    assert db.session.get(OrganizationMember, req2.id) is None
    events = {e.event for e in db.session.scalars(select(AuditLogEntry))}
    assert {"member.invite", "invite-request.remove"} <= events


def test_approve_refused_when_join_requests_disabled(client, org):
    from onboarding.orgs import options

    signed_in(client, org)
    req, _ = make_invite(org, "asker@example.com", status=InviteStatus.REQUESTED_TO_JOIN)
    options.set_value(org.id, "join_requests", False)
    db.session.commit()
    client.post(f"/organizations/acme/members/{req.id}/approve/")
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "Your organization does not allow requests to join." in page
    assert db.session.get(OrganizationMember, req.id).invite_status == InviteStatus.REQUESTED_TO_JOIN


def test_resend_revives_expired_invite_with_new_token(client, org):
    signed_in(client, org)
    member, old_raw = make_invite(org, "late@example.com", expired=True)
    assert client.post(f"/organizations/acme/members/{member.id}/resend/").status_code == 303
    refreshed = db.session.get(OrganizationMember, member.id)
    assert not refreshed.token_expired()
    assert not tokens.matches(old_raw, refreshed.token_hash)
    new_link = link_in(sent_mail(client.application)[-1])
    client.post("/auth/logout/")
    assert client.get(new_link.replace("http://onboarding.test", "")).status_code == 200
    assert client.get(f"/accept/{member.id}/{old_raw}/").status_code == 404


def test_revoke_deletes_invite(client, org):
    signed_in(client, org)
    member, raw = make_invite(org, "gone@example.com")
    assert client.post(f"/organizations/acme/members/{member.id}/revoke/").status_code == 303
    assert db.session.get(OrganizationMember, member.id) is None
    assert client.get(f"/accept/{member.id}/{raw}/").status_code == 404
    entry = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "member.revoke-invite"))
    assert entry.data["email"] == "gone@example.com"


def test_fresh_link_shown_once(client, org):
    signed_in(client, org)
    member, old_raw = make_invite(org, "nomail@example.com")
    resp = client.post(f"/organizations/acme/members/{member.id}/link/")
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and resp.headers["Cache-Control"] == "no-store"
    import re

    url = re.search(r'value="(http://onboarding.test/accept/[^"]+)"', body).group(1)
    assert client.get("/organizations/acme/members/").get_data(as_text=True).count(url) == 0
    assert not tokens.matches(old_raw, db.session.get(OrganizationMember, member.id).token_hash)


def test_actions_need_manager_and_same_org(client, org):
    other = make_org("Other", slug="other")
    theirs, _ = make_invite(other, "theirs@example.com")
    signed_in(client, org, role="admin", email="admin@example.com")
    mine, _ = make_invite(org, "mine@example.com")
    assert client.post(f"/organizations/acme/members/{mine.id}/revoke/").status_code == 403
    client.post("/auth/logout/")
    signed_in(client, org, role="manager", email="m2@example.com")
    assert client.post(f"/organizations/acme/members/{theirs.id}/revoke/").status_code == 404
    assert client.get("/organizations/other/members/").status_code == 404


def test_daily_limit_per_email(app, client, org):
    from onboarding import ratelimit
    from onboarding.invites import service

    signed_in(client, org)
    for _ in range(service.LIMIT_PER_EMAIL.limit):
        ratelimit.hit(service.LIMIT_PER_EMAIL, f"{org.id}:spam@example.com")
    resp = invite(client, "spam@example.com")
    assert resp.status_code == 422
    assert "Too many invites were sent today" in resp.get_data(as_text=True)


def test_api_daily_limits_answer_429_with_retry_after(client, org):
    """SECURITY.md: a throttled API answer says when to retry. Inviting and resending both count."""
    from onboarding import ratelimit
    from onboarding.invites import service

    signed_in(client, org)
    member, _raw = make_invite(org, "spam@example.com")
    for _ in range(service.LIMIT_PER_EMAIL.limit):
        ratelimit.hit(service.LIMIT_PER_EMAIL, f"{org.id}:spam@example.com")
        ratelimit.hit(service.LIMIT_PER_EMAIL, f"{org.id}:more@example.com")
    invited = client.post("/api/0/organizations/acme/members/", json={"email": "more@example.com"})
    assert invited.status_code == 429
    assert "Too many invites were sent today" in invited.get_json()["email"][0]
    resent = client.put(f"/api/0/organizations/acme/members/{member.id}/", json={"reinvite": True})
    assert resent.status_code == 429
    for resp in (invited, resent):
        assert 0 < int(resp.headers["Retry-After"]) <= 24 * 3600
    other = client.post("/api/0/organizations/acme/members/", json={"email": "fine@example.com"})
    assert other.status_code == 201 and "Retry-After" not in other.headers


def test_join_request_page(client, org):
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    page = client.get("/organizations/acme/join-request/")
    assert page.status_code == 200
    resp = client.post(
        "/organizations/acme/join-request/", data={"name": "Out Sider", "email": "out@example.com"}
    )
    assert "If your request is approved" in resp.get_data(as_text=True)
    row = pending(org, "out@example.com")
    assert row.invite_status == InviteStatus.REQUESTED_TO_JOIN
    # the same answer for someone already a member: no enumeration, no duplicate row
    again = client.post(
        "/organizations/acme/join-request/", data={"name": "Owner", "email": "owner@example.com"}
    )
    assert "If your request is approved" in again.get_data(as_text=True)
    assert db.session.query(OrganizationMember).filter_by(organization_id=org.id).count() == 2


def test_audit_log_page_and_api(client, org):
    signed_in(client, org)
    invite(client, "a@example.com")
    page = client.get("/organizations/acme/audit-log/").get_data(as_text=True)
    assert "member.invite" in page
    entries = client.get("/api/0/organizations/acme/audit-logs/").get_json()
    assert entries[0]["event"] == "member.invite" and entries[0]["actor"]["email"] == "mgr@example.com"
    assert set(entries[0]) >= {
        "event",
        "actor",
        "targetObject",
        "targetUser",
        "ipAddress",
        "data",
        "dateCreated",
    }


# --- JSON API ----------------------------------------------------------------------------------------


def test_api_members_list_and_invite(client, org):
    signed_in(client, org)
    resp = client.post(
        "/api/0/organizations/acme/members/", json={"email": "api@example.com", "role": "admin"}
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["email"] == "api@example.com" and body["pending"] is True and body["role"] == "admin"
    assert body["inviteStatus"] == "approved" and body["user"] is None and isinstance(body["id"], str)
    listed = client.get("/api/0/organizations/acme/members/").get_json()
    assert {m["email"] for m in listed} == {"mgr@example.com", "api@example.com"}
    dup = client.post("/api/0/organizations/acme/members/", json={"email": "api@example.com"})
    assert dup.status_code == 409 and "already been invited" in dup.get_json()["email"][0]
    bad = client.post("/api/0/organizations/acme/members/", json={"email": "nope"})
    assert bad.status_code == 400 and "email" in bad.get_json()
    high = client.post("/api/0/organizations/acme/members/", json={"email": "o@example.com", "role": "owner"})
    assert high.status_code == 400 and "role" in high.get_json()


def test_api_reinvite_and_delete(client, org):
    signed_in(client, org)
    member, raw = make_invite(org, "x@example.com")
    resp = client.put(f"/api/0/organizations/acme/members/{member.id}/", json={"reinvite": True})
    assert resp.status_code == 200
    assert not tokens.matches(raw, db.session.get(OrganizationMember, member.id).token_hash)
    assert client.delete(f"/api/0/organizations/acme/members/{member.id}/").status_code == 204
    assert client.get(f"/api/0/organizations/acme/members/{member.id}/").status_code == 404


def test_api_last_owner_cannot_be_removed(client, org):
    owner = signed_in(client, org, role="owner", email="owner@example.com")
    row = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == owner.id))
    resp = client.delete(f"/api/0/organizations/acme/members/{row.id}/")
    assert resp.status_code == 403 and "last owner" in resp.get_json()["detail"]


def test_api_needs_auth_and_membership(client, org):
    assert client.get("/api/0/organizations/acme/members/").status_code == 401
    make_user("stranger@example.com")
    login(client, "stranger@example.com")
    assert client.get("/api/0/organizations/acme/members/").status_code == 404


def test_api_accept_invite_flow(client, org):
    member, raw = make_invite(org, "api@example.com")
    url = f"/api/0/accept-invite/{member.id}/{raw}/"
    details = client.get(url)
    assert details.status_code == 200
    body = details.get_json()
    assert (
        body["orgSlug"] == "acme" and body["needsAuthentication"] is True and body["existingMember"] is False
    )
    assert body["needsSso"] is False and body["needs2fa"] is False
    assert client.get(f"/api/0/accept-invite/{member.id}/{'x' * 43}/").get_json() == {
        "details": "Invalid invite code"
    }
    assert client.post(url).get_json() == {"details": "unable to accept organization invite"}
    with client.session_transaction() as sess:  # signing in now would resume the invite kept above
        sess.clear()
    make_user("api@example.com")
    login(client, "api@example.com")
    assert client.post(url).status_code == 204
    assert client.post(url).get_json() == {"details": "Invalid invite code"}


def test_api_member_cannot_destroy_an_invite_sent_to_someone_else(client, org):
    """Bug 1, by API: the address is checked before membership; nothing is deleted."""
    user = make_user("me@example.com")
    make_member(org, user)
    member, raw = make_invite(org, "me.other@example.com")
    login(client, "me@example.com")
    resp = client.post(f"/api/0/accept-invite/{member.id}/{raw}/")
    assert resp.status_code == 400
    assert resp.get_json() == {"details": "This invite was sent to another email address."}
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id) is not None


def test_api_accept_existing_member_deletes_own_invite(client, org):
    from onboarding.accounts.models import UserEmail

    user = make_user("me@example.com")
    make_member(org, user)
    member, raw = make_invite(org, "me.other@example.com")
    db.session.add(UserEmail(user_id=user.id, email="me.other@example.com", is_verified=True))
    db.session.commit()
    login(client, "me@example.com")
    resp = client.post(f"/api/0/accept-invite/{member.id}/{raw}/")
    assert resp.status_code == 400 and resp.get_json() == {"details": "member already exists"}
    assert db.session.get(OrganizationMember, member.id) is None
