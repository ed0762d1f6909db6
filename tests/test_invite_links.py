"""Shareable invite links: managers create and revoke them; visitors join through ``/join/<token>/``, with
a use limit, a domain lock proven by email, and an approval queue (contract: "Shareable invite links")."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from onboarding.accounts.models import User, UserEmail
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.invitelinks import service as links
from onboarding.invitelinks.models import InviteLink
from onboarding.orgs.models import InviteStatus, OrganizationMember
from onboarding.outbox.models import OutboxMessage
from tests.factories import default_org, login, make_member, make_user, sent_mail


def _manager(client, role: str = "manager") -> User:
    user = make_user(f"{role}@example.com")
    make_member(default_org(), user, role)
    login(client, user.email)
    return user


def _create(client, **fields) -> tuple[object, str]:
    data = {"role": "member", "expires_days": "7", **fields}
    resp = client.post(f"/organizations/{default_org().slug}/invite-links/", data=data)
    found = re.search(r'id="invite-link-url" type="text" value="([^"]+)"', resp.get_data(as_text=True))
    return resp, found.group(1) if found else ""


def _token(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[1]


def _events(name: str) -> list[AuditLogEntry]:
    return list(db.session.scalars(select(AuditLogEntry).where(AuditLogEntry.event == name)))


def test_manager_creates_a_link_shown_once_and_stored_only_as_a_hash(client):
    _manager(client)
    resp, url = _create(
        client, max_uses="3", allowed_domains="Example.com, example.org", require_approval="y"
    )
    assert resp.status_code == 201
    assert url.startswith("http://onboarding.test/join/") and resp.headers["Cache-Control"] == "no-store"
    link = db.session.scalar(select(InviteLink))
    assert link.max_uses == 3 and link.allowed_domains == ["example.com", "example.org"]
    assert link.require_approval and _token(url) not in link.token_hash
    listing = client.get(f"/organizations/{default_org().slug}/invite-links/").get_data(as_text=True)
    assert _token(url) not in listing and "0 of 3" in listing and "example.com, example.org" in listing
    assert _events("invite-link.create")[0].target_object == link.id


@pytest.mark.parametrize(
    ("fields", "field_error"),
    [
        ({"expires_days": "91"}, "A link lasts from 1 to 90 days."),
        ({"max_uses": "0"}, "Enter a number of uses from 1 to 10,000."),
        ({"allowed_domains": "not a domain"}, "is not a domain like example.com."),
    ],
)
def test_bad_input_is_refused_beside_its_field(client, fields, field_error):
    _manager(client)
    resp, url = _create(client, **fields)
    assert resp.status_code == 422 and not url
    assert field_error in resp.get_data(as_text=True)
    assert db.session.scalar(select(func.count(InviteLink.id))) == 0


def test_managers_may_not_create_owner_links_and_members_may_not_see_the_page(client):
    _manager(client)
    resp, _ = _create(client, role="owner")
    assert resp.status_code == 403 and db.session.scalar(select(func.count(InviteLink.id))) == 0
    member = make_user("plain@example.com")
    make_member(default_org(), member, "member")
    client.post("/auth/logout/")
    login(client, member.email)
    assert client.get(f"/organizations/{default_org().slug}/invite-links/").status_code == 403


def test_signed_in_visitor_joins_through_the_member_joined_outbox(client):
    manager = _manager(client)
    _, url = _create(client)
    client.post("/auth/logout/")
    visitor = make_user("visitor@example.com")
    login(client, visitor.email)
    page = client.get(f"/join/{_token(url)}/")
    assert page.status_code == 200 and 'id="join-form"' in page.get_data(as_text=True)
    assert page.headers["Referrer-Policy"] == "no-referrer"
    resp = client.post(f"/join/{_token(url)}/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(
        f"/organizations/{default_org().slug}/"
    )
    member = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id))
    assert member is not None and member.role == "member" and member.inviter_id == manager.id
    assert db.session.get(InviteLink, db.session.scalar(select(InviteLink.id))).uses == 1
    assert _events("member.join-via-link")[0].target_user_id == visitor.id
    # The member-joined receivers ran (jobs are synchronous in tests): the link's creator was emailed.
    assert any(m["To"] == manager.email and "joined" in m["Subject"] for m in sent_mail(client.application))
    assert db.session.scalar(select(func.count(OutboxMessage.id))) == 0


@pytest.mark.parametrize("how", ["revoked", "used up", "expired", "malformed"])
def test_dead_links_get_the_invalid_link_page(client, how):
    _manager(client)
    _, url = _create(client, max_uses="1")
    token = _token(url)
    link = db.session.scalar(select(InviteLink))
    if how == "revoked":
        assert (
            client.post(f"/organizations/{default_org().slug}/invite-links/{link.id}/revoke/").status_code
            == 303
        )
        assert _events("invite-link.revoke")
    elif how == "used up":
        link.uses = 1
    elif how == "expired":
        from datetime import timedelta

        from onboarding.extensions import utcnow

        link.expires_at = utcnow() - timedelta(seconds=1)
    else:
        token = token[:-3] + "~~~"  # not the shape of a token: refused before the database
    db.session.commit()
    resp = client.get(f"/join/{token}/")
    assert resp.status_code == 404
    assert "The invite link you followed is not valid, or has expired." in resp.get_data(as_text=True)


def test_signed_out_visitor_registers_through_the_link_even_when_registration_is_closed(client, app):
    assert not app.config["ALLOW_REGISTRATION"]
    _manager(client)
    _, url = _create(client)
    client.post("/auth/logout/")
    landing = client.get(f"/join/{_token(url)}/").get_data(as_text=True)
    assert 'id="join-register"' in landing and 'id="join-signin"' in landing
    resp = client.post(
        "/auth/login/",
        data={
            "op": "register",
            "name": "New",
            "username": "new@example.com",
            "password": "a long enough passphrase 42",
        },
    )
    assert resp.status_code == 303
    user = db.session.scalar(select(User).where(User.email == "new@example.com"))
    assert user is not None
    assert (
        db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == user.id)) is not None
    )


def test_domain_lock_refuses_other_addresses_and_creates_no_account(client):
    _manager(client)
    _, url = _create(client, allowed_domains="corp.example")
    client.post("/auth/logout/")
    client.get(f"/join/{_token(url)}/")
    resp = client.post(
        "/auth/login/",
        data={
            "op": "register",
            "name": "Out",
            "username": "out@else.example",
            "password": "a long enough passphrase 42",
        },
    )
    assert resp.status_code == 422
    assert "This link is only for addresses at corp.example." in resp.get_data(as_text=True)
    assert db.session.scalar(select(User).where(User.email == "out@else.example")) is None


def test_domain_lock_joins_only_after_the_emailed_confirmation(client, app):
    _manager(client)
    _, url = _create(client, allowed_domains="corp.example")
    client.post("/auth/logout/")
    visitor = make_user("ann@corp.example")
    login(client, visitor.email)
    resp = client.post(f"/join/{_token(url)}/")
    assert resp.status_code == 200 and 'id="join-confirm-sent"' in resp.get_data(as_text=True)
    assert (
        db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id)) is None
    )
    mail = [m for m in sent_mail(app) if m["To"] == "ann@corp.example"][-1]
    confirm = re.search(
        r"http://onboarding.test(/join/confirm/\S+/)", mail.get_body(("plain",)).get_content()
    ).group(1)
    assert client.get(confirm).status_code == 200  # a page with a button: mail scanners do not join
    assert (
        db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id)) is None
    )
    assert client.post(confirm).status_code == 303
    assert (
        db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id))
        is not None
    )
    verified = db.session.scalar(select(UserEmail).where(UserEmail.user_id == visitor.id))
    assert verified.email == "ann@corp.example" and verified.is_verified
    assert client.post(confirm).status_code in (303, 404)  # once is enough; it never joins twice


def test_domain_lock_refuses_a_signed_in_account_at_another_domain(client):
    _manager(client)
    _, url = _create(client, allowed_domains="corp.example")
    client.post("/auth/logout/")
    login(client, make_user("bob@else.example").email)
    resp = client.post(f"/join/{_token(url)}/")
    assert resp.status_code == 403
    assert "This link is only for addresses at corp.example." in resp.get_data(as_text=True)


def test_approval_files_a_request_that_a_manager_approves(client, app):
    _manager(client)
    _, url = _create(client, require_approval="y")
    client.post("/auth/logout/")
    visitor = make_user("wait@example.com")
    login(client, visitor.email)
    resp = client.post(f"/join/{_token(url)}/")
    assert resp.status_code == 200 and 'id="join-requested"' in resp.get_data(as_text=True)
    request_row = db.session.scalar(
        select(OrganizationMember).where(OrganizationMember.invite_status == InviteStatus.REQUESTED_TO_JOIN)
    )
    assert request_row is not None and request_row.email == "wait@example.com"
    assert client.post(f"/join/{_token(url)}/").status_code == 200  # asking twice files one request
    assert db.session.scalar(select(InviteLink)).uses == 1
    client.post("/auth/logout/")
    login(client, "manager@example.com")
    resp = client.post(f"/organizations/{default_org().slug}/members/{request_row.id}/approve/")
    assert resp.status_code == 303
    member = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id))
    assert member is not None and member.invite_status == InviteStatus.APPROVED
    assert any(m["To"] == "wait@example.com" and "joined" in m["Subject"] for m in sent_mail(app))


def test_a_rejected_request_is_removed_and_the_visitor_told(client, app):
    _manager(client)
    _, url = _create(client, require_approval="y")
    client.post("/auth/logout/")
    visitor = make_user("nope@example.com")
    login(client, visitor.email)
    client.post(f"/join/{_token(url)}/")
    request_row = db.session.scalar(
        select(OrganizationMember).where(OrganizationMember.invite_status == InviteStatus.REQUESTED_TO_JOIN)
    )
    client.post("/auth/logout/")
    login(client, "manager@example.com")
    assert (
        client.post(f"/organizations/{default_org().slug}/members/{request_row.id}/reject/").status_code
        == 303
    )
    assert db.session.get(OrganizationMember, request_row.id) is None
    assert any(m["To"] == "nope@example.com" and "request" in m["Subject"] for m in sent_mail(app))


def test_the_token_is_masked_in_logs():
    from onboarding.web.logmask import mask

    assert mask("GET /join/abcDEF123_-x/ 200") == "GET /join/…/ 200"
    assert mask("GET /join/confirm/eyJsIjo.xyz/ 200") == "GET /join/confirm/…/ 200"


def test_service_parse_domains():
    assert links.parse_domains(" @Corp.Example , corp.example,\nb.example") == ["corp.example", "b.example"]
    with pytest.raises(links.LinkError):
        links.parse_domains("corp example")


def test_api_creates_lists_and_revokes_links(client):
    _manager(client)
    base = f"/api/0/organizations/{default_org().slug}/invite-links/"
    resp = client.post(
        base, json={"role": "member", "maxUses": 10, "expiresDays": 3, "allowedDomains": ["corp.example"]}
    )
    assert resp.status_code == 201
    body = resp.get_json()
    assert body["url"].startswith("http://onboarding.test/join/") and body["uses"] == 0
    assert body["maxUses"] == 10 and body["allowedDomains"] == ["corp.example"] and body["revoked"] is False
    listed = client.get(base).get_json()
    assert [item["id"] for item in listed] == [body["id"]] and "url" not in listed[0]
    assert client.post(base, json={"expiresDays": 400}).get_json() == {
        "expiresDays": ["A link lasts from 1 to 90 days."]
    }
    assert client.post(base, json={"role": "owner"}).status_code == 403
    assert client.delete(f"{base}{body['id']}/").status_code == 204
    assert client.get(base).get_json()[0]["revoked"] is True
    assert client.get(f"/join/{_token(body['url'])}/").status_code == 404


def test_fifty_simultaneous_joins_on_a_ten_use_link_give_ten_memberships(app):
    import threading

    from onboarding.database import write_intent

    org = default_org()
    owner = make_user("owner@example.com")
    make_member(org, owner, "owner")
    link, _raw = links.create(
        org,
        owner,
        "owner",
        role="member",
        max_uses=10,
        expires_days=7,
        allowed_domains=[],
        require_approval=False,
        ip=None,
    )
    db.session.commit()
    users = [make_user(f"racer{i}@example.com").id for i in range(50)]
    link_id = link.id
    barrier = threading.Barrier(50, timeout=60)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def attempt(user_id: int) -> None:
        try:
            barrier.wait(timeout=30)
            with app.app_context(), write_intent(True):
                me = db.session.get(User, user_id)
                result = links.join(db.session.get(InviteLink, link_id), me, ip="127.0.0.1")
                db.session.commit()
                with lock:
                    outcomes.append(result.outcome.value)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=attempt, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors
    db.session.rollback()  # a fresh snapshot: the threads committed after this session last read
    joined = db.session.scalar(
        select(func.count(OrganizationMember.id)).where(
            OrganizationMember.organization_id == org.id, OrganizationMember.user_id.in_(users)
        )
    )
    assert joined == 10 and outcomes.count("joined") == 10 and outcomes.count("invalid") == 40
    assert db.session.get(InviteLink, link_id).uses == 10


def test_a_join_through_a_link_is_announced_to_the_organizations_webhooks(client, monkeypatch):
    heard: list[tuple[str, int]] = []
    monkeypatch.setattr(
        "onboarding.webhooks.events.emit", lambda event, member: heard.append((event, member.id))
    )
    _manager(client)
    _, url = _create(client)
    client.post("/auth/logout/")
    visitor = make_user("hook@example.com")
    login(client, visitor.email)
    client.post(f"/join/{_token(url)}/")
    member = db.session.scalar(select(OrganizationMember).where(OrganizationMember.user_id == visitor.id))
    assert ("member.joined", member.id) in heard


def test_guessing_join_tokens_is_throttled_per_client_before_the_database(client, app):
    app.config["INVITE_LINK_FAILURES_PER_IP"] = 3
    _manager(client)
    _, url = _create(client)
    for i in range(3):
        assert client.get(f"/join/{'x' * 40}{i}/").status_code == 404
    refused = client.get(f"/join/{'y' * 43}/")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert client.get(f"/join/{_token(url)}/", environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200


def test_revoking_asks_first_without_javascript(client):
    _manager(client)
    _create(client)
    page = client.get(f"/organizations/{default_org().slug}/invite-links/").get_data(as_text=True)
    form = re.search(
        r'<form method="get" action="(/confirm/)"[^>]*id="invite-link-revoke-\d+"[^>]*>(.*?)</form>',
        page,
        re.S,
    )
    assert form is not None  # the button leads to a confirmation page holding the real form
    token = re.search(r'name="c" value="([^"]+)"', form.group(2)).group(1)
    confirm = client.get("/confirm/", query_string={"c": token}).get_data(as_text=True)
    assert "Revoke this link? Nobody can join through it any more." in confirm
    assert db.session.scalar(select(InviteLink)).revoked_at is None
