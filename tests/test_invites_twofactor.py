"""Invites into organizations that require two-factor: the invite kept in the session is accepted right
after enrollment (spec §1.6), and the links sent when the requirement is turned on (spec §1.11, §3)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from onboarding.accounts.models import User
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.orgs import service as orgs
from onboarding.orgs.models import OrganizationMember, OrgFlags
from onboarding.twofactor.service import user_has_2fa
from tests.factories import PASSWORD, login, make_invite, make_member, make_org, make_team, make_user
from tests.invite_security_helpers import (
    INVALID,
    accept_path,
    continue_link,
    enroll_through_page,
    invite_keys,
    link_sent_to,
    put_on_team,
)
from tests.twofactor_helpers import code, empty_mailbox, enroll, mails_to  # noqa: F401

ADDED = "You have been added to the Secure Co organization."


@pytest.fixture
def secure(app):
    """An organization that requires two-factor, its owner (enrolled) and a team."""
    org = make_org("Secure Co", slug="secure")
    owner = make_user("owner@example.com")
    make_member(org, owner, role="owner")
    enroll(owner)
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    db.session.commit()
    return org, owner, make_team(org, "Ops")


def _accepted(org, member_id: int, email: str) -> OrganizationMember:
    user = db.session.scalar(select(User).where(User.email == email))
    assert user is not None
    db.session.expire_all()
    row = orgs.get_membership(org, user)
    assert row is not None, f"{email} is not a member of {org.slug}"
    assert row.id == member_id  # the invite row itself became the membership
    assert row.email is None and row.token_hash is None
    return row


def _lands_with_message(client, target: str | None, org) -> None:
    assert target == f"/organizations/{org.slug}/"
    home = client.get(target)
    assert home.status_code == 200
    assert ADDED in home.get_data(as_text=True)


# --- (a) an invitee who is not signed in registers, enrolls, and lands --------------------------------


def test_anonymous_invitee_registers_enrolls_and_lands_in_the_org(client, secure):
    org, owner, team = secure
    member, raw = make_invite(org, "new@example.com", role="admin", inviter=owner)
    put_on_team(member, team)

    landing = client.get(accept_path(member, raw))
    assert landing.status_code == 200 and "Create an account" in landing.get_data(as_text=True)
    assert 'id="invite-needs-2fa"' in landing.get_data(as_text=True)  # told before registering
    registered = client.post(
        "/auth/register/",
        data={"op": "register", "name": "New", "username": "new@example.com", "password": PASSWORD},
    )
    # Registration cannot accept yet: the page says two-factor comes first.
    assert registered.status_code == 303 and registered.headers["Location"] == accept_path(member, raw)
    page = client.get(registered.headers["Location"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "requires two-factor authentication" in html and 'href="/account/settings/security/"' in html
    assert db.session.get(OrganizationMember, member.id).user_id is None
    assert invite_keys(client) == {"invite_member_id", "invite_token", "invite_organization_id"}

    done = enroll_through_page(client)
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert 'id="recovery-codes"' in html  # the codes are still shown once, before moving on
    joined = _accepted(org, member.id, "new@example.com")
    assert joined.role == "admin" and [t.slug for t in joined.teams] == ["ops"]
    assert invite_keys(client) == set()
    _lands_with_message(client, continue_link(html), org)
    accept_entry = db.session.scalar(
        select(AuditLogEntry).where(AuditLogEntry.event == "member.accept-invite")
    )
    assert accept_entry is not None and accept_entry.target_object == member.id


# --- (b) an existing user who signs in ------------------------------------------------------------


def test_existing_user_signs_in_enrolls_and_lands_in_the_org(client, secure):
    org, owner, _ = secure
    make_user("old@example.com")
    member, raw = make_invite(org, "old@example.com", inviter=owner)

    assert "Sign in to accept the invite" in client.get(accept_path(member, raw)).get_data(as_text=True)
    signed = login(client, "old@example.com")
    assert signed.status_code == 303 and signed.headers["Location"] == accept_path(member, raw)
    page = client.get(accept_path(member, raw)).get_data(as_text=True)
    assert "requires two-factor authentication" in page and 'id="accept-form"' not in page
    refused = client.post(accept_path(member, raw))
    assert refused.status_code == 403
    assert db.session.get(OrganizationMember, member.id).user_id is None

    done = enroll_through_page(client)
    assert done.status_code == 200
    _accepted(org, member.id, "old@example.com")
    _lands_with_message(client, continue_link(done.get_data(as_text=True)), org)
    # The used link is now like any other bad link.
    assert INVALID in client.get(accept_path(member, raw)).get_data(as_text=True)


# --- (c) what enrollment does when there is nothing (valid) to accept -----------------------------


def test_enrolling_without_a_pending_invite_is_just_enrolling(client, secure):
    user = make_user("solo@example.com")
    login(client, "solo@example.com")
    done = enroll_through_page(client)
    assert done.status_code == 200
    html = done.get_data(as_text=True)
    assert 'id="recovery-codes"' in html and continue_link(html) is None
    assert user_has_2fa(user.id)
    assert (
        db.session.scalar(
            select(func.count()).select_from(OrganizationMember).where(OrganizationMember.user_id == user.id)
        )
        == 0
    )


def test_invite_in_session_that_no_longer_exists_changes_nothing(client, secure, caplog):
    org, owner, _ = secure
    user = make_user("gone@example.com")
    member, raw = make_invite(org, "gone@example.com", inviter=owner)
    client.get(accept_path(member, raw))
    login(client, "gone@example.com")
    invites.revoke(db.session.get(OrganizationMember, member.id), owner, "owner", ip=None)
    db.session.commit()

    caplog.set_level("WARNING", logger="onboarding.invites.resume")
    done = enroll_through_page(client)
    assert done.status_code == 200 and 'id="recovery-codes"' in done.get_data(as_text=True)
    logged = [r.getMessage() for r in caplog.records if r.name == "onboarding.invites.resume"]
    assert logged == [f"Invalid pending invite in the session (member {member.id}); not accepted"]
    assert raw not in caplog.text
    assert continue_link(done.get_data(as_text=True)) is None
    assert user_has_2fa(user.id)
    assert orgs.get_membership(org, user) is None
    assert (
        db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "member.accept-invite")) is None
    )


def test_invite_resent_since_it_was_kept_is_not_accepted(app, client, secure):
    org, owner, _ = secure
    user = make_user("late@example.com")
    member, raw = make_invite(org, "late@example.com", inviter=owner)
    client.get(accept_path(member, raw))
    login(client, "late@example.com")
    invites.resend(db.session.get(OrganizationMember, member.id), owner, "owner", ip=None)  # a new token
    db.session.commit()
    new_hash = db.session.get(OrganizationMember, member.id).token_hash

    done = enroll_through_page(client)
    assert done.status_code == 200
    db.session.expire_all()
    row = db.session.get(OrganizationMember, member.id)
    assert row.user_id is None and row.token_hash == new_hash  # still pending, the new link still good
    assert orgs.get_membership(org, user) is None
    # The new link (from the resend email) works now that two-factor is on.
    fresh = link_sent_to(app, "late@example.com")
    assert client.post(fresh).status_code == 303
    assert orgs.get_membership(org, user) is not None


def test_invite_for_an_org_already_joined_is_discarded_after_enrollment(client, secure):
    org, owner, _ = secure
    user = make_user("twice@example.com")
    make_member(org, user)
    duplicate, raw = make_invite(org, "twice@example.com", inviter=owner)
    with client.session_transaction() as sess:  # held from before joining by other means
        sess.update(invite_member_id=duplicate.id, invite_token=raw, invite_organization_id=org.id)
    # Signing in resumes it: the address's owner is already a member, so the invite is discarded.
    assert login(client, "twice@example.com").headers["Location"] == "/organizations/secure/"
    assert db.session.get(OrganizationMember, duplicate.id) is None
    assert invite_keys(client) == set()
    done = enroll_through_page(client)
    assert done.status_code == 200


# --- (e) turning the requirement on: the emailed link brings members back after enrolling ---------


def test_members_made_pending_come_back_through_the_emailed_link(app, client, secure):
    org, owner, team = secure
    org.set_flag(OrgFlags.REQUIRE_2FA, False)
    db.session.commit()
    lax = make_user("lax@example.com")
    lax_member = make_member(org, lax, role="manager")
    orgs.add_team_member(team, lax_member)
    db.session.commit()

    login(client, "owner@example.com")
    assert client.post("/auth/2fa/", data={"otp": code(steps=1)}).status_code == 303
    turned = client.post("/organizations/secure/settings/security/", data={"require2FA": "y"})
    assert turned.status_code == 303
    client.post("/auth/logout/")
    db.session.expire_all()
    assert orgs.get_membership(org, lax) is None

    assert len(mails_to(app, "lax@example.com")) == 1
    link = link_sent_to(app, "lax@example.com")
    assert link.startswith(f"/accept/{lax_member.id}/")

    landing = client.get(link)
    assert landing.status_code == 200 and "Sign in to accept the invite" in landing.get_data(as_text=True)
    assert login(client, "lax@example.com").headers["Location"] == link
    assert "requires two-factor authentication" in client.get(link).get_data(as_text=True)
    # Before enrolling, the organization is closed to them.
    assert client.get("/organizations/secure/").status_code == 404

    done = enroll_through_page(client)
    assert done.status_code == 200
    back = _accepted(org, lax_member.id, "lax@example.com")
    assert back.role == "manager" and [t.slug for t in back.teams] == ["ops"]
    _lands_with_message(client, continue_link(done.get_data(as_text=True)), org)
