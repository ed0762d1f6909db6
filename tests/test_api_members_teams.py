"""JSON API: changing a member's role and teams, removing and leaving, and teams CRUD (same rules as pages)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, Team
from tests.factories import login, make_invite, make_member, make_org, make_team, make_user


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def as_(client, org, role, email=None):
    member = make_member(org, make_user(email or f"me-{role}@example.com", name="Me"), role=role)
    login(client, member.user.email)
    return member


def add(org, role, email):
    return make_member(org, make_user(email, name=email.split("@")[0].title()), role=role)


def url(member_id):
    return f"/api/0/organizations/acme/members/{member_id}/"


def fresh(member_id):
    db.session.expire_all()
    return db.session.get(OrganizationMember, member_id)


def events(org, name):
    return list(
        db.session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.organization_id == org.id, AuditLogEntry.event == name)
        )
    )


# --- members ------------------------------------------------------------------------------------------


def test_put_role_and_teams(client, org):
    make_team(org, "Core")
    make_team(org, "Web")
    me = as_(client, org, "manager")
    bob = add(org, "member", "bob@example.com")
    resp = client.put(url(bob.id), json={"role": "admin", "teams": ["web", "core"]})
    assert resp.status_code == 200
    body = resp.get_json()
    assert body["role"] == "admin" and sorted(body["teams"]) == ["core", "web"] and body["id"] == str(bob.id)
    (entry,) = events(org, "member.edit")
    assert entry.actor_id == me.user_id and entry.data["after"]["teams_slugs"] == ["core", "web"]
    only_teams = client.put(url(bob.id), json={"teams": []})
    assert only_teams.status_code == 200 and only_teams.get_json()["teams"] == []
    assert only_teams.get_json()["role"] == "admin"
    audit = client.get("/api/0/organizations/acme/audit-logs/").get_json()
    assert [e["event"] for e in audit][:2] == ["member.edit", "member.edit"]


def test_put_refuses_with_field_errors(client, org):
    as_(client, org, "manager")
    bob = add(org, "member", "bob@example.com")
    resp = client.put(url(bob.id), json={"role": "owner"})
    assert resp.status_code == 400
    assert resp.get_json() == {"role": ["You do not have permission to assign the role owner."]}
    assert client.put(url(bob.id), json={"role": "emperor"}).get_json() == {"role": ["Choose a valid role."]}
    assert client.put(url(bob.id), json={"role": 5}).get_json() == {"role": ["Invalid role"]}
    assert client.put(url(bob.id), json={"teams": ["nope"]}).get_json() == {"teams": ["Invalid teams"]}
    assert client.put(url(bob.id), json={"teams": "core"}).get_json() == {
        "teams": ["Send a list of team slugs."]
    }
    empty = client.put(url(bob.id), json={})
    assert empty.status_code == 400 and "reinvite" in empty.get_json()["detail"]
    assert client.put(url(bob.id), data="x", content_type="text/plain").status_code == 400
    assert fresh(bob.id).role == "member" and events(org, "member.edit") == []


def test_put_refuses_a_higher_member_and_low_roles(client, org):
    as_(client, org, "manager")
    boss = add(org, "owner", "boss@example.com")
    resp = client.put(url(boss.id), json={"role": "member"})
    assert resp.status_code == 403 and "higher role" in resp.get_json()["detail"]
    assert fresh(boss.id).role == "owner"


@pytest.mark.parametrize("role", ["member", "admin"])
def test_members_and_admins_cannot_put_or_delete_others(client, org, role):
    as_(client, org, role)
    bob = add(org, "member", "bob@example.com")
    assert client.put(url(bob.id), json={"role": "admin"}).status_code == 403
    assert client.delete(url(bob.id)).status_code == 403
    assert fresh(bob.id).role == "member"


def test_put_last_owner_cannot_be_demoted(client, org):
    me = as_(client, org, "owner")
    resp = client.put(url(me.id), json={"role": "member"})
    assert resp.status_code == 400 and "cannot be demoted" in resp.get_json()["role"][0]
    assert fresh(me.id).role == "owner"


def test_put_on_a_pending_invite_is_refused_but_reinvite_still_works(client, org):
    as_(client, org, "owner")
    invite, _ = make_invite(org, "wait@example.com")
    resp = client.put(url(invite.id), json={"role": "admin"})
    assert resp.status_code == 400 and "pending invite" in resp.get_json()["detail"]
    assert client.put(url(invite.id), json={"reinvite": True}).status_code == 200


def test_delete_member_and_leave(client, org):
    me = as_(client, org, "manager")
    boss = add(org, "owner", "boss@example.com")
    bob = add(org, "member", "bob@example.com")
    assert client.delete(url(boss.id)).status_code == 403
    assert client.delete(url(bob.id)).status_code == 204
    assert fresh(bob.id) is None
    (removed,) = events(org, "member.remove")
    assert removed.target_user_id == bob.user_id and removed.data["email"] == "bob@example.com"
    assert client.delete(url(me.id)).status_code == 204
    assert fresh(me.id) is None
    (left,) = events(org, "member.leave")
    assert left.actor_id == me.user_id and left.target_user_id == me.user_id
    assert client.get("/api/0/organizations/acme/members/").status_code == 404


def test_member_may_leave_through_the_api(client, org):
    me = as_(client, org, "member")
    add(org, "owner", "boss@example.com")
    assert client.delete(url(me.id)).status_code == 204
    assert fresh(me.id) is None and len(events(org, "member.leave")) == 1


def test_last_owner_removed_by_superuser_is_refused(client, org):
    boss = add(org, "owner", "boss@example.com")
    make_user("root@example.com", superuser=True)
    login(client, "root@example.com")
    resp = client.delete(url(boss.id))
    assert resp.status_code == 403 and resp.get_json() == {
        "detail": "The last owner of an organization cannot be removed."
    }
    assert fresh(boss.id) is not None


def test_member_api_needs_csrf_header_for_session_callers(client, org, app):
    as_(client, org, "owner")
    bob = add(org, "member", "bob@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert client.put(url(bob.id), json={"role": "admin"}).status_code == 400
        assert client.delete(url(bob.id)).status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert fresh(bob.id).role == "member"


# --- teams --------------------------------------------------------------------------------------------

TEAMS = "/api/0/organizations/acme/teams/"


def test_teams_crud(client, org):
    me = as_(client, org, "admin")
    created = client.post(TEAMS, json={"name": "Front End"})
    assert created.status_code == 201
    body = created.get_json()
    assert body["slug"] == "front-end" and body["name"] == "Front End" and body["memberCount"] == 0
    explicit = client.post(TEAMS, json={"name": "Ops", "slug": "ops-team"})
    assert explicit.status_code == 201 and explicit.get_json()["slug"] == "ops-team"
    listing = client.get(TEAMS).get_json()
    assert [t["slug"] for t in listing] == ["front-end", "ops-team"]
    assert client.put(url(me.id), json={"teams": ["front-end"]}).status_code == 403  # member:write
    detail = client.get(TEAMS + "front-end/").get_json()
    assert detail["members"] == [] and detail["memberCount"] == 0
    renamed = client.put(TEAMS + "front-end/", json={"name": "Web"})
    assert renamed.status_code == 200
    assert (renamed.get_json()["name"], renamed.get_json()["slug"]) == ("Web", "front-end")
    moved = client.put(TEAMS + "front-end/", json={"slug": "web"})
    assert moved.status_code == 200 and moved.get_json()["slug"] == "web"
    assert client.get(TEAMS + "front-end/").status_code == 404
    assert client.delete(TEAMS + "web/").status_code == 204
    assert client.get(TEAMS + "web/").status_code == 404
    assert [e.event for e in events(org, "team.create")] == ["team.create", "team.create"]
    assert len(events(org, "team.edit")) == 2 and len(events(org, "team.remove")) == 1


def test_team_detail_lists_members(client, org):
    make_team(org, "Core")
    as_(client, org, "owner")
    bob = add(org, "member", "bob@example.com")
    assert client.put(url(bob.id), json={"teams": ["core"]}).status_code == 200
    detail = client.get(TEAMS + "core/").get_json()
    assert detail["memberCount"] == 1 and detail["members"][0]["email"] == "bob@example.com"


def test_team_errors(client, org):
    make_team(org, "Core")
    as_(client, org, "owner")
    assert client.post(TEAMS, json={"name": "core"}).get_json() == {
        "name": ['A team with the slug "core" already exists in this organization.']
    }
    assert client.post(TEAMS, json={"name": "X", "slug": "core"}).get_json() == {
        "slug": ['A team with the slug "core" already exists in this organization.']
    }
    assert client.post(TEAMS, json={}).get_json() == {"name": ["Enter a name for the team."]}
    assert client.post(TEAMS, json={"name": 5}).status_code == 400
    assert "slug" in client.post(TEAMS, json={"name": "A", "slug": "-bad"}).get_json()
    assert client.post(TEAMS, json=[1]).get_json() == {"detail": "Send a JSON object."}
    assert client.put(TEAMS + "core/", json={}).status_code == 400
    assert client.put(TEAMS + "core/", json={"name": ""}).get_json() == {
        "name": ["Enter a name for the team."]
    }
    assert client.put(TEAMS + "nope/", json={"name": "x"}).status_code == 404
    assert client.delete(TEAMS + "nope/").status_code == 404
    assert len(list(db.session.scalars(select(Team).where(Team.organization_id == org.id)))) == 1


@pytest.mark.parametrize("role", ["member"])
def test_members_read_teams_but_cannot_change_them(client, org, role):
    make_team(org, "Core")
    as_(client, org, role)
    assert client.get(TEAMS).status_code == 200
    assert client.get(TEAMS + "core/").status_code == 200
    assert client.post(TEAMS, json={"name": "Web"}).status_code == 403
    assert client.put(TEAMS + "core/", json={"name": "X"}).status_code == 403
    assert client.delete(TEAMS + "core/").status_code == 403


def test_teams_api_hides_other_orgs(client, org):
    other = make_org("Other", slug="other")
    make_team(other, "Secret")
    as_(client, org, "owner")
    assert client.get("/api/0/organizations/other/teams/").status_code == 404
    assert client.get(TEAMS + "secret/").status_code == 404
    client.post("/auth/logout/")
    assert client.get(TEAMS).status_code == 401
