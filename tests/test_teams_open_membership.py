"""The "Open membership" setting: on, members join and leave any team themselves (Sentry's
``allow_joinleave``); off, only admins and up change who is in a team."""

from __future__ import annotations

import pytest

from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMemberTeam, OrgFlags
from tests.factories import login, make_member, make_org, make_team, make_user


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def _in_team(team, member) -> bool:
    db.session.expire_all()
    return (
        db.session.query(OrganizationMemberTeam).filter_by(team_id=team.id, member_id=member.id).first()
        is not None
    )


def _open(org, on: bool) -> None:
    org.set_flag(OrgFlags.ALLOW_JOINLEAVE, on)
    db.session.commit()


def test_open_membership_lets_a_member_join_and_leave_a_team(client, org):
    _open(org, True)
    team = make_team(org, "Core")
    member = make_member(org, make_user("m@example.com"), role="member")
    login(client, "m@example.com")
    page = client.get("/organizations/acme/teams/core/").get_data(as_text=True)
    assert 'id="team-join-form"' in page
    resp = client.post("/organizations/acme/teams/core/join/")
    assert resp.status_code == 303 and _in_team(team, member)
    assert 'id="team-leave-form"' in client.get("/organizations/acme/teams/core/").get_data(as_text=True)
    assert client.post("/organizations/acme/teams/core/leave/").status_code == 303
    assert not _in_team(team, member)


def test_closed_membership_leaves_teams_to_admins(client, org):
    _open(org, False)
    team = make_team(org, "Core")
    member = make_member(org, make_user("m@example.com"), role="member")
    login(client, "m@example.com")
    assert 'id="team-join-form"' not in client.get("/organizations/acme/teams/core/").get_data(as_text=True)
    assert client.post("/organizations/acme/teams/core/join/").status_code == 403
    assert not _in_team(team, member)


def test_admins_join_teams_whatever_the_setting(client, org):
    _open(org, False)
    team = make_team(org, "Core")
    admin = make_member(org, make_user("a@example.com"), role="admin")
    login(client, "a@example.com")
    assert client.post("/organizations/acme/teams/core/join/").status_code == 303
    assert _in_team(team, admin)
