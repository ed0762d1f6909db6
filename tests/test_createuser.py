"""``onboarding createuser`` (spec §1.10)."""

from __future__ import annotations

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from onboarding.passwords import verify_password
from tests.factories import default_org, make_org, make_team


def invoke(runner, *args, **kw):
    from onboarding.cli import cli

    return runner.invoke(cli, ["createuser", *args], **kw)


def test_creates_user_and_joins_default_org(runner):
    result = invoke(runner, "--email", "A@Example.com", "--password", "pw", "--no-input")
    assert result.exit_code == 0, result.output
    assert "Added to organization: " + default_org().slug in result.output
    assert "User created: a@example.com" in result.output
    user = db.session.query(User).one()
    assert verify_password(user.password_hash, "pw")  # option passwords skip the policy
    assert not user.is_superuser and not user.is_staff
    member = db.session.query(OrganizationMember).one()
    assert member.role == "member"


def test_superuser_is_owner_and_staff(runner):
    result = invoke(runner, "--email", "root@example.com", "--password", "pw", "--superuser", "--no-input")
    assert result.exit_code == 0
    user = db.session.query(User).one()
    assert user.is_superuser and user.is_staff
    assert db.session.query(OrganizationMember).one().role == "owner"


def test_staff_without_superuser_is_corrected(runner):
    result = invoke(runner, "--email", "s@example.com", "--password", "pw", "--staff", "--no-input")
    assert "Non-superuser asked to be given staff access, correcting to staff=False" in result.output
    assert not db.session.query(User).one().is_staff


def test_missing_email(runner):
    result = invoke(runner, "--password", "pw", "--no-input")
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
    invoke(runner, "--email", "a@example.com", "--password", "pw", "--no-input")
    again = invoke(runner, "--email", "a@example.com", "--password", "other", "--superuser", "--no-input")
    assert again.exit_code == 0
    assert "User: a@example.com exists, use --force-update to force." in again.output
    assert not db.session.query(User).one().is_superuser
    forced = invoke(
        runner,
        "--email",
        "a@example.com",
        "--password",
        "other",
        "--superuser",
        "--no-input",
        "--force-update",
    )
    assert "User updated: a@example.com" in forced.output
    user = db.session.query(User).one()
    db.session.refresh(user)
    assert user.is_superuser and verify_password(user.password_hash, "other")
    # idempotent: forcing again adds nothing
    invoke(
        runner,
        "--email",
        "a@example.com",
        "--password",
        "other",
        "--superuser",
        "--no-input",
        "--force-update",
    )
    assert db.session.query(User).count() == 1
    assert db.session.query(OrganizationMember).count() == 1


def test_several_emails(runner):
    result = invoke(
        runner, "--email", "a@example.com", "--email", "b@example.com", "--password", "pw", "--no-input"
    )
    assert result.output.count("User created:") == 2


def test_org_id(runner):
    org = make_org("Other")
    result = invoke(
        runner, "--email", "a@example.com", "--password", "pw", "--no-input", "--org-id", str(org.id)
    )
    assert f"Added to organization: {org.slug}" in result.output
    bad = invoke(runner, "--email", "b@example.com", "--password", "pw", "--no-input", "--org-id", "99999")
    assert bad.exit_code != 0 and "Organization ID not found" in bad.output


def test_single_team_membership(runner):
    team = make_team(default_org())
    invoke(runner, "--email", "a@example.com", "--password", "pw", "--no-input")
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
