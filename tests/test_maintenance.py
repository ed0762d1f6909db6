"""The hourly clean-up: long-expired invites are removed (audited), the rest stays; it is scheduled once
an hour however many sweeps ask; ``onboarding maintenance`` runs it now."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from onboarding import maintenance, tasks
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db, utcnow
from onboarding.orgs.models import InviteStatus, OrganizationMember, OrganizationMemberTeam
from tests.factories import make_invite, make_member, make_org, make_team, make_user

DAY = timedelta(days=1)


def _expired(org, email, days_ago: float):  # type: ignore[no-untyped-def]
    member, _raw = make_invite(org, email)
    member.token_expires_at = utcnow() - days_ago * DAY
    db.session.commit()
    return member


def _emails(org) -> set[str]:  # type: ignore[no-untyped-def]
    db.session.expire_all()
    return {
        m.get_email()
        for m in db.session.scalars(
            select(OrganizationMember).where(OrganizationMember.organization_id == org.id)
        )
    }


def test_only_invites_expired_longer_than_the_retention_are_removed(app):
    org = make_org("Acme", slug="acme")
    make_member(org, make_user("owner@example.com"), role="owner")
    old = _expired(org, "old@example.com", 31)
    team = make_team(org)
    db.session.add(OrganizationMemberTeam(team_id=team.id, member_id=old.id))
    db.session.commit()
    _expired(org, "recent@example.com", 29)  # still listed: a resend revives it
    make_invite(org, "live@example.com")
    request, _ = make_invite(org, "asks@example.com", status=InviteStatus.REQUESTED_TO_JOIN)
    request.token_expires_at = None
    db.session.commit()

    report = maintenance.run()

    assert report.expired_invites == 1
    assert _emails(org) == {"owner@example.com", "recent@example.com", "live@example.com", "asks@example.com"}
    assert db.session.scalar(select(func.count()).select_from(OrganizationMemberTeam)) == 0
    [entry] = db.session.scalars(
        select(AuditLogEntry).where(AuditLogEntry.event == "member.remove-expired-invite")
    )
    assert entry.organization_id == org.id and entry.actor_id is None and entry.actor_label == "system"
    assert entry.data["email"] == "old@example.com" and entry.data["expired"].endswith("Z")
    assert maintenance.run().expired_invites == 0  # nothing left to do: idempotent


def test_retention_is_configurable_and_backlogs_go_in_batches(app):
    app.config["INVITE_EXPIRED_RETENTION_SECONDS"] = 0
    org = make_org("Acme", slug="acme")
    for i in range(5):
        _expired(org, f"gone{i}@example.com", 0.01)
    make_invite(org, "live@example.com")
    report = maintenance.remove_expired_invites(maintenance.Report(), batch=2)
    assert report.expired_invites == 5
    assert _emails(org) == {"live@example.com"}


def test_the_command_runs_it_now_and_says_what_it_did(app, runner):
    org = make_org("Acme", slug="acme")
    _expired(org, "old@example.com", 40)
    from onboarding.cli import cli

    result = runner.invoke(cli, ["maintenance"])
    assert result.exit_code == 0, result.output
    assert "removed 1 long-expired invite(s)" in result.output
    assert "0 unreferenced blob(s)" in result.output
    assert _emails(org) == set()


def test_scheduled_once_per_hour_however_many_sweeps_ask(app, redis_url):
    from rq.registry import ScheduledJobRegistry

    from onboarding.queue import get_queue

    app.config["JOBS_SYNC"] = False
    tasks.periodic()  # the 30-second sweep asks for it…
    for _ in range(2):  # …and so do later sweeps (or other workers) within the same hour
        tasks.schedule_maintenance()
    registry = ScheduledJobRegistry(queue=get_queue("files"))
    ids = registry.get_job_ids()
    assert len(ids) == 1 and ids[0].startswith("onboarding-maintenance-")
    slot = int(ids[0].rsplit("-", 1)[1])
    assert slot * maintenance.PERIOD % 3600 == 0
    job = get_queue("files").fetch_job(ids[0])
    assert job is not None and job.func_name == "onboarding.tasks.maintenance"


def test_an_invite_resent_meanwhile_is_kept(app, monkeypatch):
    """The removal is conditional: an invite revived between the clean-up's select and its delete stays."""
    from onboarding.invites import service as invites

    org = make_org("Acme", slug="acme")
    old = _expired(org, "old@example.com", 40)
    real_execute = db.session.execute

    def resend_first(statement, *args, **kwargs):  # type: ignore[no-untyped-def]
        if getattr(statement, "is_delete", False):
            db.session.execute(
                OrganizationMember.__table__.update()
                .where(OrganizationMember.id == old.id)
                .values(token_expires_at=utcnow() + 7 * DAY)
            )
        return real_execute(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "execute", resend_first)
    assert invites.delete_expired(timedelta(days=30)) == 0
    monkeypatch.undo()
    db.session.commit()
    assert _emails(org) == {"old@example.com"}
    assert db.session.scalar(select(func.count()).select_from(AuditLogEntry)) == 0
