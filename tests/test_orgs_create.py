"""``/organizations/new/`` in multi-organization mode: slug rules of spec §1.11, owner, audit entry."""

from __future__ import annotations

import html
from typing import Any

import pytest
from sqlalchemy import select

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization
from tests.factories import login, make_org, make_user

MULTI = {"SINGLE_ORGANIZATION": False}
PATTERN = (
    "Enter a valid slug consisting of letters, numbers, or hyphens. "
    "It cannot be entirely numeric or start/end with a hyphen."
)


@pytest.fixture
def settings() -> dict[str, Any]:
    return dict(MULTI)


@pytest.fixture
def user(client: Any) -> Any:
    user = make_user("creator@example.com")
    assert login(client, user.email).status_code == 303
    return user


def _create(client: Any, name: str, slug: str, **kw: Any) -> Any:
    return client.post("/organizations/new/", data={"name": name, "slug": slug}, **kw)


def _text(resp: Any) -> str:
    return html.unescape(resp.get_data(as_text=True))


def test_signed_in_user_without_org_lands_on_new(client: Any) -> None:
    make_user("nobody@example.com")
    resp = login(client, "nobody@example.com")
    assert resp.headers["Location"] == "/organizations/new/"
    page = client.get("/organizations/new/")
    assert page.status_code == 200
    assert 'id="org-create-form"' in page.get_data(as_text=True)


def test_anonymous_is_sent_to_sign_in(client: Any) -> None:
    resp = client.get("/organizations/new/")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/auth/login/?next=")


@pytest.mark.parametrize(
    ("slug", "stored"),
    [
        ("santry", "santry"),
        ("downtown-canada", "downtown-canada"),
        ("1234-foo", "1234-foo"),
        ("SaNtRy", "santry"),
    ],
)
def test_valid_slugs(client: Any, user: Any, slug: str, stored: str) -> None:
    resp = _create(client, "Santry Inc", slug)
    assert resp.status_code == 303, _text(resp)
    assert resp.headers["Location"] == f"/organizations/{stored}/"
    org = orgs.get_org_by_slug(stored)
    assert org is not None and org.name == "Santry Inc"
    member = orgs.get_membership(org, user)
    assert member is not None and member.role == "owner"
    home = client.get(resp.headers["Location"])
    assert home.status_code == 200
    assert "The Santry Inc organization was created." in home.get_data(as_text=True)


@pytest.mark.parametrize(
    ("slug", "message"),
    [
        (" i have whitespace ", 'The slug " i have whitespace " should not contain any whitespace.'),
        ("foo-bar ", 'The slug "foo-bar " should not contain any whitespace.'),
        ("bird-company!", PATTERN),
        ("downtown_canada", PATTERN),
        ("canada-", PATTERN),
        ("-canada", PATTERN),
        ("----", PATTERN),
        ("1234", PATTERN),
        ("a", 'This slug "a" is too short. Minimum of 3 characters.'),
        ("api", 'This slug "api" is reserved and not allowed.'),
        ("Organizations", 'This slug "Organizations" is reserved and not allowed.'),
        ("x" * 51, "Ensure this field has no more than 50 characters."),
    ],
)
def test_invalid_slugs(client: Any, user: Any, slug: str, message: str) -> None:
    resp = _create(client, "Santry Inc", slug)
    assert resp.status_code == 422
    body = _text(resp)
    assert message in body
    assert 'aria-invalid="true"' in body
    assert db.session.scalar(select(Organization).where(Organization.name == "Santry Inc")) is None


@pytest.mark.parametrize("slug", ["santry", "SaNtRy"])
def test_taken_slug(client: Any, user: Any, slug: str) -> None:
    make_org("Existing", slug="santry")
    resp = _create(client, "Another", slug)
    assert resp.status_code == 422
    assert f'The slug "{slug}" is already in use.' in _text(resp)


def test_name_required_and_slug_derived(client: Any, user: Any) -> None:
    resp = _create(client, "", "")
    assert resp.status_code == 422
    assert "Enter a name for the organization." in _text(resp)
    resp = _create(client, "My  Great_Org!", "")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/organizations/my-great-org/"


def test_creation_is_audited(client: Any, user: Any) -> None:
    _create(client, "Santry Inc", "santry", environ_base={"REMOTE_ADDR": "198.51.100.7"})
    org = orgs.get_org_by_slug("santry")
    entry = db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "org.add"))
    assert entry is not None
    assert entry.organization_id == org.id and entry.target_object == org.id
    assert entry.actor_id == user.id
    assert entry.ip_address == "198.51.100.7"
    assert entry.data["slug"] == "santry" and entry.data["name"] == "Santry Inc"


def test_htmx_create_and_failure(client: Any, user: Any) -> None:
    bad = _create(client, "Santry", "a", headers={"HX-Request": "true"})
    assert bad.status_code == 422
    assert "<html" not in bad.get_data(as_text=True)
    assert 'id="org-create-form"' in bad.get_data(as_text=True)
    good = _create(client, "Santry", "santry", headers={"HX-Request": "true"})
    assert good.status_code == 204
    assert good.headers["HX-Redirect"] == "/organizations/santry/"


def test_sign_in_lands_in_created_org(client: Any, user: Any) -> None:
    _create(client, "Santry", "santry")
    client.post("/auth/logout/")
    assert login(client, user.email).headers["Location"] == "/organizations/santry/"


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": True}])
def test_single_org_mode_404(client: Any) -> None:
    make_user("someone@example.com")
    login(client, "someone@example.com")
    assert client.get("/organizations/new/").status_code == 404
    resp = _create(client, "Santry", "santry")
    assert resp.status_code == 404
    assert orgs.get_org_by_slug("santry") is None
