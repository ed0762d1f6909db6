"""``onboarding createuser``: options, prompts, messages and exit codes of Sentry's command (spec §1.10)."""

from __future__ import annotations

import click
from email_validator import EmailNotValidError, validate_email
from flask import current_app

from onboarding.accounts import service as accounts
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization
from onboarding.passwords import policy_errors


def _check_email(value: str) -> str:
    errors = []
    email = accounts.normalize_email(value)
    if not email:
        errors.append("This field cannot be blank.")
    else:
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            errors.append("Enter a valid email address.")
    if len(email) > 254:
        errors.append("Ensure this value has at most 254 characters.")
    if errors:
        raise click.ClickException("; ".join(errors))
    return email


ACTOR = "onboarding createuser"  # the audit log's actor for what the command does


def _check_password(password: str, emails: list[str]) -> None:
    """The web's password policy. Sentry's createuser skips it; we do not, so that no account made here
    has a password the sign-up page would refuse."""
    for email in emails:
        errors = policy_errors(password, user_inputs=[email])
        if errors:
            raise click.ClickException(
                f"{' '.join(errors)} (The same password rules apply here as on the sign-up page.)"
            )


def run(
    emails: list[str],
    *,
    org_id: int | None,
    password: str | None,
    superuser: bool | None,
    staff: bool | None,
    no_password: bool,
    no_input: bool,
    force_update: bool,
) -> None:
    if not no_input:
        if not emails:
            emails = [_check_email(click.prompt("Email"))]
        if not password and not no_password:
            password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
        if superuser is None:
            superuser = click.confirm("Should this user be a superuser?", default=False)
    if superuser is None:
        superuser = False
    if staff and not superuser:
        click.echo("Non-superuser asked to be given staff access, correcting to staff=False")
        staff = False
    if staff is None:
        staff = superuser
    if not emails:
        raise click.ClickException("Invalid or missing email address.")
    if not password and not no_password:
        raise click.ClickException("No password set and --no-password not passed.")
    emails = [_check_email(e) for e in emails]
    if password:
        _check_password(password, emails)

    org: Organization | None = None
    if current_app.config["SINGLE_ORGANIZATION"]:
        if org_id is not None:
            org = db.session.get(Organization, org_id)
            if org is None:
                raise click.ClickException("Organization ID not found")
        else:
            org = orgs.ensure_default_organization()

    for email in emails:
        user = accounts.get_user_by_email(email)
        if user is not None:
            if not force_update:
                click.echo(f"User: {email} exists, use --force-update to force.")
                continue
            user.is_superuser, user.is_staff, user.is_active_flag = superuser, staff, True
            verb = "updated"
        else:
            user = accounts.create_user(email, is_superuser=superuser, is_staff=staff)
            verb = "created"
            if org is not None:
                member = orgs.add_member(org, user, role=roles.TOP_ROLE if superuser else org.default_role)
                team = orgs.single_team(org)
                if team is not None:
                    orgs.add_team_member(team, member)
                audit.record(
                    "member.add",
                    organization_id=org.id,
                    actor_label=ACTOR,
                    target_object=member.id,
                    target_user_id=user.id,
                    data={"email": email, "role": member.role, "via": "createuser"},
                )
                click.echo(f"Added to organization: {org.slug}")
        if password:
            accounts.set_password(user, password)
        db.session.commit()
        click.echo(f"User {verb}: {email}")
