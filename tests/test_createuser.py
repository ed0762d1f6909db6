"""``onboarding createuser`` (spec §1.10)."""

from __future__ import annotations

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from onboarding.passwords import verify_password
from tests.factories import default_org, make_org, make_team

PW = "a long enough passphrase"
OTHER = "another long passphrase"


def invoke(runner, *args, **kw):
    from onboarding.cli import cli

    return runner.invoke(cli, ["createuser", *args], **kw)


def test_creates_user_and_joins_default_org(runner):
    result = invoke(runner, "--email", "A@Example.com", "--password", PW, "--no-input")
    assert result.exit_code == 0, result.output
    assert "Added to organization: " + default_org().slug in result.output
    assert "User created: a@example.com" in result.output
    user = db.session.query(User).one()
    assert verify_password(user.password_hash, PW)
    assert not user.is_superuser and not user.is_staff
    member = db.session.query(OrganizationMember).one()
    assert member.role == "member"


def test_superuser_is_owner_and_staff(runner):
    result = invoke(runner, "--email", "root@example.com", "--password", PW, "--superuser", "--no-input")
    assert result.exit_code == 0
    user = db.session.query(User).one()
    assert user.is_superuser and user.is_staff
    assert db.session.query(OrganizationMember).one().role == "owner"


def test_staff_without_superuser_is_corrected(runner):
    result = invoke(runner, "--email", "s@example.com", "--password", PW, "--staff", "--no-input")
    assert "Non-superuser asked to be given staff access, correcting to staff=False" in result.output
    assert not db.session.query(User).one().is_staff


def test_missing_email(runner):
    result = invoke(runner, "--password", PW, "--no-input")
    assert result.exit_code != 0
    assert "Invalid or missing email address." in result.output


def test_missing_password(runner):
    result = invoke(runner, "--email", "a@example.com", "--no-input")
    assert result.exit_code != 0
    assert "No password set and --no-password not passed." in result.output


def test_no_password_leaves_unusable_password(runner):
    result = invoke(runner, "--email", "a@example.com", "--no-password", "--no-input")
    assert result.exit_code == 0
    assert db.session.query(User).one().password_hash is None


def test_existing_user_needs_force_update(runner):
    invoke(runner, "--email", "a@example.com", "--password", PW, "--no-input")
    again = invoke(runner, "--email", "a@example.com", "--password", OTHER, "--superuser", "--no-input")
    assert again.exit_code == 0
    assert "User: a@example.com exists, use --force-update to force." in again.output
    assert not db.session.query(User).one().is_superuser
    forced = invoke(
        runner,
        "--email",
        "a@example.com",
        "--password",
        OTHER,
        "--superuser",
        "--no-input",
        "--force-update",
    )
    assert "User updated: a@example.com" in forced.output
    user = db.session.query(User).one()
    db.session.refresh(user)
    assert user.is_superuser and verify_password(user.password_hash, OTHER)
    # idempotent: forcing again adds nothing
    invoke(
        runner,
        "--email",
        "a@example.com",
        "--password",
        OTHER,
        "--superuser",
        "--no-input",
        "--force-update",
    )
    assert db.session.query(User).count() == 1
    assert db.session.query(OrganizationMember).count() == 1


def test_several_emails(runner):
    result = invoke(
        runner, "--email", "a@example.com", "--email", "b@example.com", "--password", PW, "--no-input"
    )
    assert result.output.count("User created:") == 2


def test_org_id(runner):
    org = make_org("Other")
    result = invoke(
        runner, "--email", "a@example.com", "--password", PW, "--no-input", "--org-id", str(org.id)
    )
    assert f"Added to organization: {org.slug}" in result.output
    bad = invoke(runner, "--email", "b@example.com", "--password", PW, "--no-input", "--org-id", "99999")
    assert bad.exit_code != 0 and "Organization ID not found" in bad.output


def test_single_team_membership(runner):
    team = make_team(default_org())
    invoke(runner, "--email", "a@example.com", "--password", PW, "--no-input")
    member = db.session.query(OrganizationMember).one()
    assert [t.id for t in member.teams] == [team.id]


def test_prompts(runner):
    result = invoke(runner, input="a@example.com\nsecret-pw\nsecret-pw\ny\n")
    assert result.exit_code == 0, result.output
    assert "Should this user be a superuser?" in result.output
    assert db.session.query(User).one().is_superuser


def test_prompted_email_is_validated(runner):
    result = invoke(runner, input="not an email\n")
    assert result.exit_code != 0
    assert "Enter a valid email address." in result.output


def test_password_policy_of_the_web_applies(runner):
    """Sentry's createuser takes any password; ours refuses what the sign-up page refuses, and says why."""
    result = invoke(runner, "--email", "a@example.com", "--password", "short", "--no-input")
    assert result.exit_code == 1
    assert "This password is too short. It must contain at least 8 characters." in result.output
    assert "same password rules apply here as on the sign-up page" in result.output
    assert db.session.query(User).count() == 0

    common = invoke(runner, "--email", "a@example.com", "--password", "password123", "--no-input")
    assert common.exit_code == 1 and "This password is too common." in common.output
    like_email = invoke(
        runner, "--email", "ada.lovelace@example.com", "--password", "ada.lovelace", "--no-input"
    )
    assert like_email.exit_code == 1 and "too similar to the email address" in like_email.output
    assert db.session.query(User).count() == 0


def test_membership_is_audited(runner):
    from onboarding.audit.models import AuditLogEntry

    result = invoke(runner, "--email", "root@example.com", "--password", PW, "--superuser", "--no-input")
    assert result.exit_code == 0, result.output
    entry = db.session.query(AuditLogEntry).one()
    member = db.session.query(OrganizationMember).one()
    assert entry.event == "member.add"
    assert entry.organization_id == default_org().id
    assert entry.actor_id is None and entry.actor_label == "onboarding createuser"
    assert entry.target_object == member.id and entry.target_user_id == member.user_id
    assert entry.data == {"email": "root@example.com", "role": "owner", "via": "createuser"}
