"""Each pending invite shows how the email with its current link is doing: sent (with the time the mail
server took it), queued, failing (with the server's error and the next try), or not emailed because the
link was copied by hand. An email carrying a replaced link never counts as sent."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select, update

from onboarding.extensions import db, utcnow
from onboarding.orgs.models import OrganizationMember
from onboarding.outbox import service as outbox
from onboarding.outbox.models import OutboxMessage
from tests.conftest import free_port
from tests.factories import login, make_member, make_org, make_user, sent_mail


@pytest.fixture
def org(app):
    org = make_org("Acme", slug="acme")
    make_member(org, make_user("mgr@example.com"), role="manager")
    return org


def _invite(client, email: str) -> OrganizationMember:
    resp = client.post("/organizations/acme/members/", data={"emails": email, "role": "member"})
    assert resp.status_code == 303, resp.get_data(as_text=True)[:300]
    return db.session.scalar(select(OrganizationMember).where(OrganizationMember.email == email))


def _state(client, member_id: int) -> tuple[str, str]:
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    row = page[page.index(f'id="invite-{member_id}"') :]
    row = row[: row.index("</tr>")]
    found = re.search(r'data-email-state="([a-z]+)">([^<]*)<', row)
    assert found is not None, row
    return found.group(1), found.group(2)


def _break_mail(app) -> str:
    working = app.config["MAIL_URL"]
    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nothing listens: connection refused
    return working


def _deliver(message_id: int) -> bool:
    db.session.execute(
        update(OutboxMessage).where(OutboxMessage.id == message_id).values(scheduled_for=utcnow())
    )
    db.session.commit()
    return outbox.deliver(message_id)


def test_a_delivered_invite_says_when_it_was_sent(client, org):
    login(client, "mgr@example.com")
    member = _invite(client, "ada@example.com")
    assert len(sent_mail(client.application)) == 1
    state, text = _state(client, member.id)
    assert state == "sent" and re.fullmatch(
        r"Email (sent|written to .+ \(no mail server configured\),) \d{4}-\d\d-\d\d \d\d:\d\d UTC", text
    )
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).invite_emailed_at is not None


def test_a_failing_email_shows_the_error_and_the_next_try_then_sent(app, client, org):
    login(client, "mgr@example.com")
    working = _break_mail(app)
    member = _invite(client, "ada@example.com")
    state, text = _state(client, member.id)
    assert state == "failing"
    assert text.startswith("Email not delivered yet: 1 failed attempt(s), next try ")
    assert "refused" in text.lower()
    app.config["MAIL_URL"] = working
    db.session.expire_all()
    assert _deliver(db.session.get(OrganizationMember, member.id).invite_email_id)
    assert _state(client, member.id)[0] == "sent"


def test_an_email_with_a_replaced_link_never_counts_as_sent(app, client, org):
    login(client, "mgr@example.com")
    working = _break_mail(app)
    member = _invite(client, "ada@example.com")
    first = db.session.get(OrganizationMember, member.id).invite_email_id
    assert client.post(f"/organizations/acme/members/{member.id}/resend/").status_code == 303
    db.session.expire_all()
    second = db.session.get(OrganizationMember, member.id).invite_email_id
    assert second != first
    app.config["MAIL_URL"] = working
    assert _deliver(first)  # the first email goes out at last, with its dead link…
    assert _state(client, member.id)[0] == "failing"  # …which says nothing about the current one
    assert _deliver(second)
    assert _state(client, member.id)[0] == "sent"


def test_a_copied_link_is_not_emailed_and_a_resend_emails_again(client, org):
    login(client, "mgr@example.com")
    member = _invite(client, "ada@example.com")
    assert client.post(f"/organizations/acme/members/{member.id}/link/").status_code == 200
    assert _state(client, member.id) == ("copied", "Link copied to hand over; not emailed")
    assert client.post(f"/organizations/acme/members/{member.id}/resend/").status_code == 303
    assert _state(client, member.id)[0] == "sent"


def test_requests_and_members_without_invite_rights_see_no_email_state(client, org):
    make_member(org, make_user("joe@example.com"), role="member")
    login(client, "mgr@example.com")
    _invite(client, "ada@example.com")
    client.post("/auth/logout/")
    login(client, "joe@example.com")
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "data-email-state" not in page
