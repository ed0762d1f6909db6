"""Multi-organization mode: creating organizations, switching between them, the remembered active one."""

from __future__ import annotations

import pytest

from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs.models import Organization, OrganizationMember
from tests.factories import default_org, login, make_member, make_org, make_user


def _signed_in(app, email="a@example.com", **kw):
    user = make_user(email, **kw)
    client = app.test_client()
    assert login(client, email).status_code == 303
    return user, client


class TestSingleOrganizationMode:
    def test_create_is_not_available(self, app):
        _, client = _signed_in(app, superuser=True)
        before = db.session.query(Organization).count()
        assert client.get("/organizations/new/").status_code == 404
        resp = client.post("/organizations/new/", data={"name": "Second", "slug": "second"})
        assert resp.status_code == 404
        assert db.session.query(Organization).count() == before == 1

    def test_no_switcher_with_one_organization(self, app):
        user, client = _signed_in(app)
        make_member(default_org(), user)
        page = client.get(f"/organizations/{default_org().slug}/").get_data(as_text=True)
        assert 'id="org-switcher"' not in page


@pytest.fixture
def multi(settings):
    settings["SINGLE_ORGANIZATION"] = False
    return settings


@pytest.mark.usefixtures("multi")
class TestMultiOrganizationMode:
    def test_user_without_org_lands_on_create(self, app):
        make_user("a@example.com")
        client = app.test_client()
        resp = login(client, "a@example.com")
        assert resp.headers["Location"] == "/organizations/new/"

    def test_create_makes_owner_audits_and_becomes_active(self, app):
        user, client = _signed_in(app)
        resp = client.post("/organizations/new/", data={"name": "Acme Inc", "slug": ""})
        assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme-inc/"
        org = db.session.query(Organization).filter_by(slug="acme-inc").one()
        member = db.session.query(OrganizationMember).filter_by(organization_id=org.id, user_id=user.id).one()
        assert member.role == "owner"
        assert db.session.query(AuditLogEntry).filter_by(event="org.add", organization_id=org.id).count() == 1
        with client.session_transaction() as sess:
            assert sess["activeorg"] == "acme-inc"

    def test_create_errors(self, app):
        _, client = _signed_in(app)
        make_org("Taken", slug="taken")
        resp = client.post("/organizations/new/", data={"name": "X", "slug": "taken"})
        assert resp.status_code == 422 and b"already in use" in resp.get_data()
        resp = client.post("/organizations/new/", data={"name": ""})
        assert resp.status_code == 422 and b"Enter a name for the organization." in resp.get_data()

    def test_switch_between_organizations_and_remember_the_active_one(self, app):
        user, client = _signed_in(app)
        a, b = make_org("Alpha", slug="alpha"), make_org("Beta", slug="beta")
        make_member(a, user)
        make_member(b, user)
        page = client.get("/organizations/alpha/").get_data(as_text=True)
        assert 'id="org-switcher"' in page
        assert (
            'href="/organizations/beta/"' in page
            and 'href="/organizations/alpha/" aria-current="true"' in page
        )
        assert client.get("/organizations/beta/").status_code == 200  # switch
        with client.session_transaction() as sess:
            assert sess["activeorg"] == "beta"
        # The sign-in page sends a signed-in user to the active organization.
        assert client.get("/auth/login/").headers["Location"] == "/organizations/beta/"
        client.get("/organizations/alpha/")
        assert client.get("/auth/login/").headers["Location"] == "/organizations/alpha/"

    def test_switcher_lists_only_own_organizations(self, app):
        user, client = _signed_in(app)
        a, b = make_org("Alpha", slug="alpha"), make_org("Beta", slug="beta")
        make_org("Secret", slug="secret")
        make_member(a, user)
        make_member(b, user)
        page = client.get("/organizations/alpha/").get_data(as_text=True)
        assert "/organizations/secret/" not in page
        assert client.get("/organizations/secret/").status_code == 404

    def test_creation_can_be_limited_to_superusers(self, app):
        app.config["ALLOW_ORGANIZATION_CREATE"] = False
        _, client = _signed_in(app)
        assert client.get("/organizations/new/").status_code == 403
        resp = client.post("/organizations/new/", data={"name": "Nope"})
        assert resp.status_code == 403 and b"Only administrators can create organizations" in resp.get_data()
        _, admin = _signed_in(app, "root@example.com", superuser=True)
        assert admin.post("/organizations/new/", data={"name": "Yes Org"}).status_code == 303


def test_allow_organization_create_is_validated(database_url, redis_url):
    from onboarding import create_app
    from onboarding.config import ConfigError
    from tests.conftest import base_config

    with pytest.raises(ConfigError, match="ONBOARDING_ALLOW_ORGANIZATION_CREATE"):
        create_app(base_config(database_url, redis_url, ALLOW_ORGANIZATION_CREATE="maybe"))
