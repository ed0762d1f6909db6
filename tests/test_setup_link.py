"""Before the first administrator exists: ``onboarding setup-link``, the sign-in page's hint, the audit trail."""

from __future__ import annotations

import re
from typing import Any

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from onboarding.setup import service as setup
from tests.factories import default_org, make_user

GOOD = {
    "name": "Ada Admin",
    "email": "ada@example.com",
    "password": "a long enough passphrase",
    "organization": "Acme",
}


def _link(runner: Any) -> str:
    from onboarding.cli import cli

    result = runner.invoke(cli, ["setup-link"])
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"No administrator yet\. Create one at: (\S+)\n", result.output)
    assert match, result.output
    return match.group(1)


def test_setup_link_prints_a_fresh_link_and_the_old_one_stops_working(runner: Any, client: Any) -> None:
    first = _link(runner)
    assert first.startswith("http://onboarding.test/setup/")  # the configured base URL
    path = first.removeprefix("http://onboarding.test")
    assert client.get(path).status_code == 200
    second = _link(runner)
    assert second != first
    assert client.get(path).status_code == 404
    assert client.get(second.removeprefix("http://onboarding.test")).status_code == 200


def test_setup_link_once_an_administrator_exists(runner: Any) -> None:
    from onboarding.cli import cli

    make_user("root@example.com", superuser=True)
    db.session.commit()
    result = runner.invoke(cli, ["setup-link"])
    assert result.exit_code == 1
    assert "An administrator exists already" in result.output
    assert "Create one at" not in result.output


def test_sign_in_page_says_how_to_get_a_setup_link(client: Any) -> None:
    page = client.get("/auth/login/").get_data(as_text=True)
    assert 'id="setup-needed"' in page and "onboarding setup-link" in page
    make_user("root@example.com", superuser=True)
    db.session.commit()
    assert 'id="setup-needed"' not in client.get("/auth/login/").get_data(as_text=True)


def test_setup_is_audited(client: Any) -> None:
    token = setup.issue_token()
    db.session.commit()
    assert client.post(f"/setup/{token}/", data=GOOD).status_code == 303
    org = default_org()
    member = db.session.query(OrganizationMember).one()
    entries = {e.event: e for e in db.session.query(AuditLogEntry).all()}
    assert set(entries) == {"member.add", "org.edit"}
    added = entries["member.add"]
    assert added.organization_id == org.id and added.actor_id == member.user_id
    assert added.target_object == member.id and added.ip_address
    assert added.data == {"email": "ada@example.com", "role": "owner", "via": "setup"}
    assert entries["org.edit"].data == {"name": "Acme", "old_name": "Default", "slug": "acme", "via": "setup"}
