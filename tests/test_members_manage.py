"""Changing roles and teams, removing members and leaving, on the members page (plain and htmx)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from tests.factories import login, make_invite, make_member, make_org, make_team, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def add(org, role, email):
    return make_member(org, make_user(email, name=email.split("@")[0].title()), role=role)


def as_(client, org, role, email=None):
    """Sign in as a new member of ``org`` with ``role``; returns the membership."""
    member = add(org, role, email or f"me-{role}@example.com")
    login(client, member.user.email)
    return member


def edit(client, member_id, role=None, teams=(), htmx=False, with_teams=True):
    data: dict = {}
    if role is not None:
        data["role"] = role
    if with_teams:
        data["_teams"] = "1"
        data["teams"] = [str(t) for t in teams]
    return client.post(
        f"/organizations/acme/members/{member_id}/edit/", data=data, headers=HX if htmx else {}
    )


def remove(client, member_id, htmx=False):
    return client.post(f"/organizations/acme/members/{member_id}/remove/", headers=HX if htmx else {})


def fresh(member_id):
    db.session.expire_all()
    return db.session.get(OrganizationMember, member_id)


def events(org, name):
    return list(
        db.session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.organization_id == org.id, AuditLogEntry.event == name)
        )
    )


# --- changing a member's role and teams -------------------------------------------------------------


def test_manager_changes_role_and_teams_plain_post(client, org):
    core, web = make_team(org, "Core"), make_team(org, "Web")
    me = as_(client, org, "manager")
    target = add(org, "member", "bob@example.com")
    resp = edit(client, target.id, role="admin", teams=[core.id, web.id])
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/organizations/acme/members/")
    row = fresh(target.id)
    assert row.role == "admin" and sorted(t.slug for t in row.teams) == ["core", "web"]
    (entry,) = events(org, "member.edit")
    assert entry.actor_id == me.user_id and entry.target_user_id == target.user_id
    assert entry.target_object == target.id and entry.ip_address
    assert entry.data["before"] == {"role": "member", "teams": [], "teams_slugs": []}
    assert entry.data["after"]["role"] == "admin" and entry.data["after"]["teams_slugs"] == ["core", "web"]
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "Saved the changes to Bob." in page


def test_edit_removes_unticked_teams_and_keeps_teams_when_not_sent(client, org):
    core, web = make_team(org, "Core"), make_team(org, "Web")
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    assert edit(client, target.id, teams=[core.id, web.id]).status_code == 303
    assert edit(client, target.id, teams=[web.id]).status_code == 303
    assert [t.slug for t in fresh(target.id).teams] == ["web"]
    # A role-only request (no ``_teams`` marker) leaves the teams alone.
    assert edit(client, target.id, role="admin", with_teams=False).status_code == 303
    row = fresh(target.id)
    assert row.role == "admin" and [t.slug for t in row.teams] == ["web"]
    befores = [e.data["before"]["teams_slugs"] for e in events(org, "member.edit")]
    assert sorted(map(tuple, befores)) == [(), ("core", "web"), ("web",)]


def test_edit_without_change_writes_no_audit(client, org):
    as_(client, org, "manager")
    target = add(org, "member", "bob@example.com")
    resp = edit(client, target.id, role="member")
    assert resp.status_code == 303
    assert events(org, "member.edit") == []
    assert "Nothing to change." in client.get("/organizations/acme/members/").get_data(as_text=True)


def test_edit_htmx_returns_the_row(client, org):
    as_(client, org, "manager")
    target = add(org, "member", "bob@example.com")
    resp = edit(client, target.id, role="admin", htmx=True)
    body = resp.get_data(as_text=True)
    assert resp.status_code == 200 and "HX-Request" in resp.vary
    assert "<html" not in body and body.strip().startswith(f'<tr id="member-{target.id}"')
    assert "Admin" in body and "Saved the changes to Bob." in body


@pytest.mark.parametrize("role", ["owner"])
def test_manager_cannot_give_a_role_above_manager(client, org, role):
    as_(client, org, "manager")
    target = add(org, "member", "bob@example.com")
    resp = edit(client, target.id, role=role)
    assert resp.status_code == 422
    assert "You do not have permission to assign the role owner." in resp.get_data(as_text=True)
    assert fresh(target.id).role == "member"
    htmx = edit(client, target.id, role=role, htmx=True)
    assert htmx.status_code == 422 and htmx.get_data(as_text=True).lstrip().startswith("<tr")
    assert events(org, "member.edit") == []


def test_manager_can_make_a_manager_but_not_touch_an_owner(client, org):
    as_(client, org, "manager")
    target = add(org, "admin", "bob@example.com")
    assert edit(client, target.id, role="manager").status_code == 303
    assert fresh(target.id).role == "manager"
    owner = add(org, "owner", "boss@example.com")
    resp = edit(client, owner.id, role="member")
    assert resp.status_code == 403
    assert "higher role than your own" in resp.get_data(as_text=True)
    assert fresh(owner.id).role == "owner"


def test_manager_page_shows_controls_only_for_members_up_to_manager(client, org):
    me = as_(client, org, "manager")
    peer = add(org, "manager", "peer@example.com")
    owner = add(org, "owner", "boss@example.com")
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert f'id="member-edit-{peer.id}"' in page and f"/members/{peer.id}/remove/" in page
    assert f'id="member-edit-{owner.id}"' not in page and f"/members/{owner.id}/remove/" not in page
    assert f'id="member-edit-{me.id}"' in page and "Leave organization" in page
    assert '<option value="owner"' not in page.split('id="invite-form"')[0]


def test_owner_can_give_owner_and_demote_another_owner(client, org):
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    assert edit(client, target.id, role="owner").status_code == 303
    assert fresh(target.id).role == "owner"
    assert edit(client, target.id, role="member").status_code == 303
    assert fresh(target.id).role == "member"


def test_last_owner_cannot_be_demoted(client, org):
    me = as_(client, org, "owner")
    resp = edit(client, me.id, role="manager")
    assert resp.status_code == 422
    assert "The last owner of an organization cannot be demoted." in resp.get_data(as_text=True)
    assert fresh(me.id).role == "owner"
    # With a second owner, stepping down is fine.
    add(org, "owner", "second@example.com")
    assert edit(client, me.id, role="manager").status_code == 303
    assert fresh(me.id).role == "manager"


def test_superuser_cannot_demote_the_last_owner(client, org):
    owner = add(org, "owner", "boss@example.com")
    make_user("root@example.com", superuser=True)
    login(client, "root@example.com")
    resp = edit(client, owner.id, role="member", htmx=True)
    assert resp.status_code == 422 and "cannot be demoted" in resp.get_data(as_text=True)
    assert fresh(owner.id).role == "owner"


@pytest.mark.parametrize("role", ["member", "admin"])
def test_members_and_admins_cannot_edit_or_remove(client, org, role):
    as_(client, org, role)
    target = add(org, "member", "bob@example.com")
    assert edit(client, target.id, role="admin").status_code == 403
    assert remove(client, target.id).status_code == 403
    row = fresh(target.id)
    assert row is not None and row.role == "member"
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert f'id="member-edit-{target.id}"' not in page and f"/members/{target.id}/remove/" not in page


def test_edit_refuses_bad_role_and_foreign_teams(client, org):
    other = make_org("Other", slug="other")
    foreign = make_team(other, "Foreign")
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    resp = edit(client, target.id, role="emperor")
    assert resp.status_code == 422 and "Choose a valid role." in resp.get_data(as_text=True)
    resp = edit(client, target.id, teams=[foreign.id])
    assert resp.status_code == 422 and "Invalid teams" in resp.get_data(as_text=True)
    resp = client.post(
        f"/organizations/acme/members/{target.id}/edit/", data={"_teams": "1", "teams": ["abc"]}
    )
    assert resp.status_code == 422
    assert fresh(target.id).teams == []


def test_edit_of_unknown_pending_or_foreign_member_is_404(client, org):
    other = make_org("Other", slug="other")
    outsider = add(other, "member", "out@example.com")
    invite, _ = make_invite(org, "wait@example.com")
    as_(client, org, "owner")
    assert edit(client, 999999, role="admin").status_code == 404
    assert edit(client, outsider.id, role="admin").status_code == 404
    assert edit(client, invite.id, role="admin").status_code == 404
    assert remove(client, outsider.id).status_code == 404
    assert fresh(outsider.id) is not None


def test_edit_and_remove_need_csrf(client, org, app):
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert edit(client, target.id, role="admin").status_code == 400
        assert remove(client, target.id).status_code == 400
        assert client.post("/organizations/acme/leave/").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert fresh(target.id).role == "member"


def test_edit_is_not_a_get(client, org):
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    assert client.get(f"/organizations/acme/members/{target.id}/edit/").status_code == 405
    assert client.get(f"/organizations/acme/members/{target.id}/remove/").status_code == 405


# --- removing members ---------------------------------------------------------------------------------


def test_manager_removes_a_member_plain(client, org):
    team = make_team(org, "Core")
    me = as_(client, org, "manager")
    target = add(org, "admin", "bob@example.com")
    edit(client, target.id, teams=[team.id])
    resp = remove(client, target.id)
    assert resp.status_code == 303
    assert fresh(target.id) is None
    (entry,) = events(org, "member.remove")
    assert entry.actor_id == me.user_id and entry.target_user_id == target.user_id
    assert entry.data["email"] == "bob@example.com" and entry.data["role"] == "admin"
    assert entry.data["teams_slugs"] == ["core"]
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert "Removed bob@example.com from the Acme organization." in page


def test_remove_htmx_empties_the_row(client, org):
    as_(client, org, "manager")
    target = add(org, "member", "bob@example.com")
    resp = remove(client, target.id, htmx=True)
    assert resp.status_code == 200 and resp.get_data(as_text=True) == "" and "HX-Request" in resp.vary
    assert fresh(target.id) is None


def test_manager_cannot_remove_an_owner(client, org):
    as_(client, org, "manager")
    owner = add(org, "owner", "boss@example.com")
    resp = remove(client, owner.id)
    assert resp.status_code == 403 and "higher role than your own" in resp.get_data(as_text=True)
    assert fresh(owner.id) is not None
    assert events(org, "member.remove") == []


def test_manager_can_remove_another_manager(client, org):
    as_(client, org, "manager")
    peer = add(org, "manager", "peer@example.com")
    assert remove(client, peer.id).status_code == 303
    assert fresh(peer.id) is None


def test_owner_removes_another_owner_but_not_the_last(client, org):
    as_(client, org, "owner")
    other = add(org, "owner", "other@example.com")
    assert remove(client, other.id).status_code == 303
    assert fresh(other.id) is None


def test_last_owner_cannot_be_removed_even_by_a_superuser(client, org):
    owner = add(org, "owner", "boss@example.com")
    make_user("root@example.com", superuser=True)
    login(client, "root@example.com")
    resp = remove(client, owner.id)
    assert resp.status_code == 422
    assert "The last owner of an organization cannot be removed." in resp.get_data(as_text=True)
    resp = remove(client, owner.id, htmx=True)
    assert resp.status_code == 422 and resp.get_data(as_text=True).lstrip().startswith("<tr")
    assert fresh(owner.id) is not None
    assert events(org, "member.remove") == []


def test_removed_member_loses_access(client, org):
    as_(client, org, "owner")
    target = add(org, "member", "bob@example.com")
    assert remove(client, target.id).status_code == 303
    client.post("/auth/logout/")
    login(client, "bob@example.com")
    assert client.get("/organizations/acme/").status_code == 404


# --- leaving ------------------------------------------------------------------------------------------


@pytest.fixture
def multi(settings):
    settings["SINGLE_ORGANIZATION"] = False


@pytest.mark.parametrize("role", ["member", "admin", "manager"])
def test_anyone_can_leave_and_lands_on_their_next_organization(multi, client, org, role):
    other = make_org("Beta", slug="beta")
    me = as_(client, org, role)
    make_member(other, me.user, role="member")
    add(org, "owner", "boss@example.com")
    client.get("/organizations/acme/")  # the active organization
    resp = client.post("/organizations/acme/leave/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/beta/"
    assert fresh(me.id) is None
    (entry,) = events(org, "member.leave")
    assert entry.actor_id == me.user_id and entry.target_user_id == me.user_id and entry.data["role"] == role
    assert "You left the Acme organization." in client.get("/organizations/beta/").get_data(as_text=True)
    assert client.get("/organizations/acme/").status_code == 404


def test_leaving_the_only_organization_lands_on_the_no_organization_page(client, org):
    me = as_(client, org, "member")
    add(org, "owner", "boss@example.com")
    resp = client.post("/organizations/acme/leave/", headers=HX)
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/organizations/"
    assert fresh(me.id) is None
    assert client.get("/organizations/").status_code == 403


def test_leaving_in_multi_org_mode_with_nothing_left_lands_on_create(multi, client, org):
    as_(client, org, "member")
    add(org, "owner", "boss@example.com")
    resp = client.post("/organizations/acme/leave/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/new/"


def test_last_owner_cannot_leave(client, org):
    me = as_(client, org, "owner")
    resp = client.post("/organizations/acme/leave/")
    assert resp.status_code == 422
    assert "You are the last owner of this organization." in resp.get_data(as_text=True)
    htmx = client.post("/organizations/acme/leave/", headers=HX)
    assert htmx.status_code == 422
    assert htmx.get_data(as_text=True).lstrip().startswith(f'<tr id="member-{me.id}"')
    assert fresh(me.id) is not None and events(org, "member.leave") == []
    add(org, "owner", "second@example.com")
    assert client.post("/organizations/acme/leave/").status_code == 303
    assert fresh(me.id) is None


def test_remove_of_yourself_is_leaving(client, org):
    me = as_(client, org, "manager")
    add(org, "owner", "boss@example.com")
    assert remove(client, me.id).status_code == 303
    assert fresh(me.id) is None
    assert len(events(org, "member.leave")) == 1 and events(org, "member.remove") == []


def test_superuser_who_is_not_a_member_cannot_leave(client, org):
    add(org, "owner", "boss@example.com")
    make_user("root@example.com", superuser=True)
    login(client, "root@example.com")
    assert client.post("/organizations/acme/leave/").status_code == 400


def test_stranger_cannot_leave_or_edit(client, org):
    target = add(org, "owner", "boss@example.com")
    make_user("stranger@example.com")
    login(client, "stranger@example.com")
    assert client.post("/organizations/acme/leave/").status_code == 404
    assert edit(client, target.id, role="member").status_code == 404
    assert remove(client, target.id).status_code == 404


def test_every_change_appears_in_the_audit_log_page(client, org):
    as_(client, org, "owner")
    bob = add(org, "member", "bob@example.com")
    carol = add(org, "member", "carol@example.com")
    assert client.post("/organizations/acme/teams/", data={"name": "Core"}).status_code == 303
    assert edit(client, bob.id, role="admin").status_code == 303
    assert remove(client, carol.id).status_code == 303
    assert client.post("/organizations/acme/teams/core/edit/", data={"name": "Core 2"}).status_code == 303
    assert client.post("/organizations/acme/teams/core/delete/").status_code == 303
    page = client.get("/organizations/acme/audit-log/").get_data(as_text=True)
    for event in ("member.edit", "member.remove", "team.create", "team.edit", "team.remove"):
        assert f"<code>{event}</code>" in page, event
    assert "carol@example.com" in page and "bob@example.com" in page
