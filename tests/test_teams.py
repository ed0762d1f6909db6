"""Teams pages: list, create, rename, delete, members in and out; slugs, permissions, audit, htmx."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember, OrganizationMemberTeam, Team
from onboarding.teams import service as teams_service
from tests.factories import login, make_member, make_org, make_team, make_user

HX = {"HX-Request": "true"}


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def as_(client, org, role, email=None):
    member = make_member(org, make_user(email or f"me-{role}@example.com", name="Me"), role=role)
    login(client, member.user.email)
    return member


def create(client, name, htmx=False, **extra):
    return client.post("/organizations/acme/teams/", data={"name": name, **extra}, headers=HX if htmx else {})


def team(org, slug):
    db.session.expire_all()
    return db.session.scalar(select(Team).where(Team.organization_id == org.id, Team.slug == slug))


def events(org, name):
    return list(
        db.session.scalars(
            select(AuditLogEntry).where(AuditLogEntry.organization_id == org.id, AuditLogEntry.event == name)
        )
    )


def test_home_links_to_teams(client, org):
    as_(client, org, "member")
    page = client.get("/organizations/acme/").get_data(as_text=True)
    assert 'href="/organizations/acme/teams/"' in page


def test_list_shows_teams_and_member_counts(client, org):
    core = make_team(org, "Core")
    make_team(org, "Web")
    me = as_(client, org, "member")
    db.session.add(OrganizationMemberTeam(team_id=core.id, member_id=me.id))
    db.session.commit()
    page = client.get("/organizations/acme/teams/").get_data(as_text=True)
    assert "Core" in page and "Web" in page and "<code>core</code>" in page
    assert 'href="/organizations/acme/teams/core/"' in page
    assert 'id="team-create-form"' not in page  # members only look


@pytest.mark.parametrize("role", ["admin", "manager", "owner"])
def test_admins_and_up_create_a_team_with_a_derived_slug(client, org, role):
    me = as_(client, org, role)
    resp = create(client, "  Front   End Ops ")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/teams/"
    created = team(org, "front-end-ops")
    assert created is not None and created.name == "Front End Ops"
    (entry,) = events(org, "team.create")
    assert entry.actor_id == me.user_id and entry.target_object == created.id
    assert entry.data == {"id": created.id, "slug": "front-end-ops", "name": "Front End Ops"}
    page = client.get("/organizations/acme/teams/").get_data(as_text=True)
    assert "Created the team &#34;Front End Ops&#34; (front-end-ops)." in page


def test_members_cannot_create_rename_delete_or_change_team_members(client, org):
    core = make_team(org, "Core")
    me = as_(client, org, "member")
    assert create(client, "Nope").status_code == 403
    assert client.post("/organizations/acme/teams/core/edit/", data={"name": "X"}).status_code == 403
    assert client.post("/organizations/acme/teams/core/delete/").status_code == 403
    assert client.post("/organizations/acme/teams/core/members/", data={"member": me.id}).status_code == 403
    assert client.post(f"/organizations/acme/teams/core/members/{me.id}/remove/").status_code == 403
    assert team(org, "nope") is None and team(org, "core").name == "Core" and core.id
    page = client.get("/organizations/acme/teams/core/").get_data(as_text=True)
    assert 'id="team-edit-form"' not in page and 'id="team-delete-form"' not in page
    assert events(org, "team.create") == events(org, "team.edit") == []


def test_create_htmx_returns_the_region_and_errors_are_422(client, org):
    as_(client, org, "admin")
    ok = create(client, "Core", htmx=True)
    body = ok.get_data(as_text=True)
    assert ok.status_code == 200 and "<html" not in body and 'id="teams-region"' in body
    assert "HX-Request" in ok.vary and "<code>core</code>" in body
    dup = create(client, "core", htmx=True)
    body = dup.get_data(as_text=True)
    assert dup.status_code == 422 and "<html" not in body
    assert "A team with the slug &#34;core&#34; already exists in this organization." in body


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "Enter a name for the team."),
        ("   ", "Enter a name for the team."),
        ("!!! ???", "The name must contain letters or numbers"),
        ("x" * 65, "Ensure the name has no more than 64 characters."),
    ],
)
def test_create_refuses_bad_names_with_a_clear_message(client, org, name, message):
    as_(client, org, "owner")
    resp = create(client, name)
    assert resp.status_code == 422 and "<html" in resp.get_data(as_text=True)
    assert message in resp.get_data(as_text=True)
    assert db.session.scalar(select(Team).where(Team.organization_id == org.id)) is None


def test_duplicate_slug_is_refused_within_an_org_but_fine_across_orgs(client, org):
    other = make_org("Other", slug="other")
    make_team(other, "Core")
    as_(client, org, "owner")
    assert create(client, "Core").status_code == 303
    resp = create(client, "CORE!")
    assert resp.status_code == 422
    assert "A team with the slug &#34;core&#34; already exists in this organization." in resp.get_data(
        as_text=True
    )
    assert len(list(db.session.scalars(select(Team).where(Team.slug == "core")))) == 2


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Core", "core"),
        ("Data_Science", "data-science"),
        ("2024", "team-2024"),
        ("Ünïcode Team", "n-code-team"),
    ],
)
def test_slug_from_name(app, name, slug):
    assert teams_service.slug_from_name(name) == slug


def test_rename_keeps_the_slug_and_is_audited(client, org):
    make_team(org, "Core")
    me = as_(client, org, "admin")
    resp = client.post("/organizations/acme/teams/core/edit/", data={"name": "Core Platform", "slug": ""})
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/teams/core/"
    renamed = team(org, "core")
    assert renamed.name == "Core Platform"
    (entry,) = events(org, "team.edit")
    assert entry.actor_id == me.user_id
    assert entry.data["before"] == {"name": "Core", "slug": "core"} and entry.data["name"] == "Core Platform"


def test_change_slug_with_rules(client, org):
    make_team(org, "Core")
    make_team(org, "Web")
    as_(client, org, "owner")
    taken = client.post("/organizations/acme/teams/core/edit/", data={"name": "Core", "slug": "web"})
    assert taken.status_code == 422
    assert "A team with the slug &#34;web&#34; already exists" in taken.get_data(as_text=True)
    for bad in ("-core", "Core", "12345", "has space", "x" * 51):
        resp = client.post("/organizations/acme/teams/core/edit/", data={"name": "Core", "slug": bad})
        assert resp.status_code == 422, bad
    htmx = client.post("/organizations/acme/teams/core/edit/", data={"slug": "-x"}, headers=HX)
    assert htmx.status_code == 422 and htmx.get_data(as_text=True).lstrip().startswith(
        '<section id="team-edit"'
    )
    ok = client.post(
        "/organizations/acme/teams/core/edit/", data={"name": "Core", "slug": "platform"}, headers=HX
    )
    assert ok.status_code == 204 and ok.headers["HX-Redirect"] == "/organizations/acme/teams/platform/"
    assert team(org, "platform") is not None and team(org, "core") is None
    assert len(events(org, "team.edit")) == 1


def test_delete_team_keeps_members_in_the_org(client, org):
    core = make_team(org, "Core")
    me = as_(client, org, "admin")
    db.session.add(OrganizationMemberTeam(team_id=core.id, member_id=me.id))
    db.session.commit()
    resp = client.post("/organizations/acme/teams/core/delete/")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/teams/"
    assert team(org, "core") is None
    assert db.session.get(OrganizationMember, me.id).teams == []
    (entry,) = events(org, "team.remove")
    assert entry.data["slug"] == "core" and entry.data["members"] == [me.id]
    assert "Deleted the team &#34;Core&#34;." in client.get("/organizations/acme/teams/").get_data(
        as_text=True
    )


def test_unknown_team_and_other_orgs_team_are_404(client, org):
    other = make_org("Other", slug="other")
    make_team(other, "Secret")
    as_(client, org, "owner")
    assert client.get("/organizations/acme/teams/secret/").status_code == 404
    assert client.post("/organizations/acme/teams/secret/delete/").status_code == 404
    assert client.get("/organizations/other/teams/").status_code == 404


def test_add_and_remove_team_members(client, org):
    make_team(org, "Core")
    me = as_(client, org, "admin")
    bob = make_member(org, make_user("bob@example.com", name="Bob"), role="owner")
    page = client.get("/organizations/acme/teams/core/").get_data(as_text=True)
    assert f'<option value="{bob.id}">' in page
    resp = client.post("/organizations/acme/teams/core/members/", data={"member": bob.id})
    assert resp.status_code == 303
    db.session.expire_all()
    assert [t.slug for t in db.session.get(OrganizationMember, bob.id).teams] == ["core"]
    (joined,) = events(org, "member.join-team")
    assert joined.actor_id == me.user_id and joined.target_user_id == bob.user_id
    assert joined.data["team_slug"] == "core"
    again = client.post("/organizations/acme/teams/core/members/", data={"member": bob.id}, headers=HX)
    assert again.status_code == 200 and "Bob is already in Core." in again.get_data(as_text=True)
    assert len(events(org, "member.join-team")) == 1
    out = client.post(f"/organizations/acme/teams/core/members/{bob.id}/remove/", headers=HX)
    body = out.get_data(as_text=True)
    assert out.status_code == 200 and "<html" not in body and "Removed Bob from Core." in body
    db.session.expire_all()
    assert db.session.get(OrganizationMember, bob.id).teams == []
    assert len(events(org, "member.leave-team")) == 1


def test_add_member_refuses_outsiders_and_bad_input(client, org):
    make_team(org, "Core")
    other = make_org("Other", slug="other")
    outsider = make_member(other, make_user("out@example.com"))
    as_(client, org, "owner")
    for value in (outsider.id, 999999):
        resp = client.post("/organizations/acme/teams/core/members/", data={"member": value})
        assert resp.status_code == 422 and "Choose a member of this organization." in resp.get_data(
            as_text=True
        )
    resp = client.post("/organizations/acme/teams/core/members/", data={"member": "x"}, headers=HX)
    assert resp.status_code == 422 and "<html" not in resp.get_data(as_text=True)
    assert events(org, "member.join-team") == []


def test_team_forms_need_csrf(client, org, app):
    make_team(org, "Core")
    as_(client, org, "owner")
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        assert create(client, "Web").status_code == 400
        assert client.post("/organizations/acme/teams/core/delete/").status_code == 400
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert team(org, "web") is None and team(org, "core") is not None
