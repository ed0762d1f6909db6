"""``/organizations/<slug>/settings/delete/``: gone for everyone at once, removed by a job, recorded in the
instance's audit log; shared blobs survive."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from onboarding import maintenance, tasks
from onboarding.audit.models import AuditLogEntry
from onboarding.avatars.models import AvatarUpload, OrganizationAvatar, UserAvatar
from onboarding.deletion import service as deletion
from onboarding.extensions import db
from onboarding.orgs.models import (
    AuthProvider,
    Organization,
    OrganizationMember,
    OrganizationMemberTeam,
    OrgStatus,
    Team,
)
from onboarding.orgs.options import OrganizationOption
from tests.deletion_helpers import HX, count, file_exists, give_avatar, stored
from tests.factories import (
    default_org,
    login,
    make_invite,
    make_member,
    make_org,
    make_provider,
    make_team,
    make_user,
    sent_mail,
)


@pytest.fixture
def settings():
    return {"SINGLE_ORGANIZATION": False}


@pytest.fixture
def held_jobs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    """The removal job is kept here instead of running at commit (as it would with inline jobs)."""
    held: list[tuple[str, tuple[Any, ...]]] = []
    monkeypatch.setattr(deletion, "queue_after_commit", lambda func, *args: held.append((func, args)))
    return held


def signed_in(app, email):
    c = app.test_client()
    assert login(c, email).status_code == 303
    return c


def url(org):
    return f"/organizations/{org.slug}/settings/delete/"


@pytest.fixture
def world(app):
    owner, member, outsider = (
        make_user("owner@example.com"),
        make_user("m@example.com"),
        make_user("x@example.com"),
    )
    org = make_org("Acme", slug="acme")
    make_member(org, owner, "owner")
    make_member(org, member, "manager")
    return {"org": org, "owner": owner, "member": member, "outsider": outsider}


def test_only_owners_see_the_page(app, world):
    org = world["org"]
    assert signed_in(app, "m@example.com").get(url(org)).status_code == 403
    assert signed_in(app, "x@example.com").get(url(org)).status_code == 404
    page = signed_in(app, "owner@example.com").get(url(org)).get_data(as_text=True)
    assert 'id="org-delete-form"' in page and 'name="confirm"' in page and "<code>acme</code>" in page
    settings_page = (
        signed_in(app, "owner@example.com").get("/organizations/acme/settings/").get_data(as_text=True)
    )
    assert f'href="{url(org)}"' in settings_page


def test_a_wrong_slug_is_422_and_nothing_changes(app, world, held_jobs):
    c = signed_in(app, "owner@example.com")
    for typed in ("", "acme-typo", "Acm"):
        resp = c.post(url(world["org"]), data={"confirm": typed})
        assert resp.status_code == 422
    resp = c.post(url(world["org"]), data={"confirm": "nope"}, headers=HX)
    assert resp.status_code == 422 and resp.get_data(as_text=True).lstrip().startswith(
        '<div id="org-delete">'
    )
    assert "not this organization&#39;s slug" in resp.get_data(as_text=True)
    assert db.session.get(Organization, world["org"].id).status == OrgStatus.ACTIVE and not held_jobs


def test_gone_for_everyone_at_once_then_removed_by_the_job(app, world, held_jobs):
    org, owner = world["org"], world["owner"]
    team = make_team(org, "Core")
    manager_row = db.session.scalar(
        select(OrganizationMember).where(OrganizationMember.user_id == world["member"].id)
    )
    db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=manager_row.id))
    db.session.add(OrganizationOption(organization_id=org.id, key="sentry:relays", value=[]))
    make_provider(org, required=False)
    db.session.commit()
    invite, raw = make_invite(org, "new@example.com", inviter=owner)
    request, _ = make_invite(org, "asks@example.com", status=2)
    org_file, org_blobs, org_paths = give_avatar("organization", org.id, (1, 2, 3))
    db.session.add(AvatarUpload(kind="organization", owner_id=org.id, data=b"x", status="failed"))
    db.session.commit()
    owner_c, member_c = signed_in(app, "owner@example.com"), signed_in(app, "m@example.com")
    assert member_c.get("/organizations/acme/").status_code == 200
    assert app.test_client().get(f"/accept/{invite.id}/{raw}/").status_code == 200
    org_id, invite_id, request_id, team_id = org.id, invite.id, request.id, team.id
    mail_before = len(sent_mail(app))

    resp = owner_c.post(url(org), data={"confirm": " ACME "})

    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/"
    assert "The Acme organization has been deleted." in owner_c.get("/organizations/new/").get_data(
        as_text=True
    )
    # At once: 404 for everyone (pages and API), the invite link is dead, pending invites and requests gone.
    for c in (owner_c, member_c):
        assert c.get("/organizations/acme/").status_code == 404
        assert c.get("/organizations/acme/members/").status_code == 404
        assert c.get("/api/0/organizations/acme/").status_code == 404
    assert app.test_client().get(f"/accept/{invite_id}/{raw}/").status_code == 404
    assert count(OrganizationMember, OrganizationMember.id.in_([invite_id, request_id])) == 0
    assert db.session.get(Organization, org_id).status == OrgStatus.PENDING_DELETION
    # Members are emailed (through the outbox), the owner too.
    new_mail = sent_mail(app)[mail_before:]
    assert sorted(m["To"] for m in new_mail) == ["m@example.com", "owner@example.com"]
    assert all(m["Subject"] == "The Acme organization was deleted" for m in new_mail)
    # Recorded in the instance's log.
    [removed] = db.session.scalars(select(AuditLogEntry).where(AuditLogEntry.event == "org.remove")).all()
    assert removed.organization_id is None and removed.actor_id == owner.id
    assert removed.data["slug"] == "acme" and removed.data["members"] == 2
    assert held_jobs == [("onboarding.tasks.purge_organization", (org_id,))]

    tasks.purge_organization(org_id)

    assert count(Organization, Organization.id == org_id) == 0
    for model, where in (
        (Team, Team.organization_id == org_id),
        (OrganizationMember, OrganizationMember.organization_id == org_id),
        (OrganizationMemberTeam, OrganizationMemberTeam.team_id == team_id),
        (OrganizationOption, OrganizationOption.organization_id == org_id),
        (AuthProvider, AuthProvider.organization_id == org_id),
        (OrganizationAvatar, OrganizationAvatar.organization_id == org_id),
        (AvatarUpload, AvatarUpload.owner_id == org_id),
        (AuditLogEntry, AuditLogEntry.organization_id == org_id),
    ):
        assert count(model, where) == 0, model
    assert not file_exists(org_file) and not any(stored(p) for p in org_paths)
    # What stays: the people, and the instance's record of the deletion.
    assert count(AuditLogEntry, AuditLogEntry.event == "org.remove") == 1
    with app.app_context():  # a fresh ``g``: requests otherwise share the test's, with its stale g.org
        assert signed_in(app, "m@example.com").get("/account/settings/").status_code == 200
    tasks.purge_organization(org_id)  # a second run finds nothing to do


def test_a_blob_shared_with_a_user_avatar_survives(app, world):
    org, member = world["org"], world["member"]
    org_file, blobs, paths = give_avatar("organization", org.id, (5, 5, 5))
    user_file, user_blobs, _ = give_avatar("user", member.id, (5, 5, 5))
    assert blobs == user_blobs
    org_id = org.id
    assert signed_in(app, "owner@example.com").post(url(org), data={"confirm": "acme"}).status_code == 303
    assert count(Organization, Organization.id == org_id) == 0  # inline jobs: removed at commit
    assert not file_exists(org_file) and file_exists(user_file) and all(stored(p) for p in paths)
    avatar = db.session.scalar(select(UserAvatar).where(UserAvatar.user_id == member.id))
    assert app.test_client().get(f"/avatar/{avatar.ident}/").status_code == 200


def test_a_lost_job_is_done_by_the_hourly_clean_up(app, world, held_jobs):
    org_id = world["org"].id
    assert (
        signed_in(app, "owner@example.com").post(url(world["org"]), data={"confirm": "acme"}).status_code
        == 303
    )
    assert count(Organization, Organization.id == org_id) == 1
    report = maintenance.run()
    assert report.deleted_organizations == 1 and count(Organization, Organization.id == org_id) == 0


def test_htmx_success_redirects(app, world, held_jobs):
    resp = signed_in(app, "owner@example.com").post(url(world["org"]), data={"confirm": "acme"}, headers=HX)
    assert resp.status_code == 204 and resp.headers["HX-Redirect"] == "/organizations/"


def test_superusers_read_the_instance_log(app, world, held_jobs):
    make_user("root@example.com", superuser=True)
    signed_in(app, "owner@example.com").post(url(world["org"]), data={"confirm": "acme"})
    assert signed_in(app, "owner@example.com").get("/manage/audit-log/").status_code == 403
    page = signed_in(app, "root@example.com").get("/manage/audit-log/").get_data(as_text=True)
    assert "org.remove" in page and "acme" in page and "owner@example.com" in page


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": True}])
def test_the_single_organization_cannot_be_deleted(app, settings, held_jobs):
    owner = make_user("owner@example.com")
    org = default_org()
    make_member(org, owner, "owner")
    c = signed_in(app, "owner@example.com")
    assert "cannot be deleted" in c.get(url(org)).get_data(as_text=True)
    resp = c.post(url(org), data={"confirm": org.slug})
    assert resp.status_code == 422 and "cannot be deleted" in resp.get_data(as_text=True)
    assert db.session.get(Organization, org.id).status == OrgStatus.ACTIVE and not held_jobs
