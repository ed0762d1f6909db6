"""Invites into an organization whose SSO is required, through the real OpenID Connect provider:
accepted only once the identity is linked (spec §1.3 newest deltas, §1.6, §3)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from onboarding.accounts.models import User
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthIdentity, OrganizationMember
from tests.factories import PASSWORD, login, make_invite, make_member, make_org, make_team, make_user
from tests.invite_security_helpers import INVALID, accept_path, invite_keys, put_on_team
from tests.oidc_helpers import APP_BASE, configure, oidc_provider_fixture, op_sign_in  # noqa: F401

pytestmark = pytest.mark.slow

ADDED = "You have been added to the Acme organization."


@pytest.fixture
def acme(app):
    org = make_org("Acme", slug="acme")
    owner = make_user("owner@acme.example")
    make_member(org, owner, role="owner")
    return org, owner, make_team(org, "Ops")


def _invite(org, owner, team, email: str) -> tuple[OrganizationMember, str]:
    member, raw = make_invite(org, email, role="admin", inviter=owner)
    put_on_team(member, team)
    return member, raw


def _continue_form(html: str) -> str:
    """The action of the page's "Continue with <provider>" form (a POST that starts the SSO flow)."""
    match = re.search(r'<form id="sso-continue-form" method="post" action="([^"]+)"', html)
    assert match, "no Continue with … form on the page"
    return match.group(1)


def _through_provider(client, start_action: str, account: str):
    """Press "Continue with …", sign in at the provider as ``account``; returns the callback's answer."""
    started = client.post(start_action)
    assert started.status_code == 303, started.get_data(as_text=True)[:300]
    back = op_sign_in(started.headers["Location"], account)
    return client.get(back.removeprefix(APP_BASE))


def _user(email: str) -> User | None:
    return db.session.scalar(select(User).where(User.email == email))


def _member_from_invite(org, member: OrganizationMember, email: str) -> OrganizationMember:
    db.session.expire_all()
    user = _user(email)
    assert user is not None
    row = orgs.get_membership(org, user)
    assert row is not None and row.id == member.id, "the membership is not the invite row"
    assert row.role == "admin" and [t.slug for t in row.teams] == ["ops"]
    assert row.token_hash is None and row.email is None
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(OrganizationMember)
            .where(OrganizationMember.organization_id == org.id, OrganizationMember.user_id == user.id)
        )
        == 1
    )
    return row


def _identity_of(org, email: str) -> AuthIdentity | None:
    user = _user(email)
    provider = orgs.auth_provider_for(org)
    if user is None or provider is None:
        return None
    return db.session.scalar(
        select(AuthIdentity).where(
            AuthIdentity.user_id == user.id, AuthIdentity.auth_provider_id == provider.id
        )
    )


def _lands(client, resp, org) -> None:
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    assert resp.headers["Location"] == f"/organizations/{org.slug}/"
    home = client.get(resp.headers["Location"])
    assert home.status_code == 200 and ADDED in home.get_data(as_text=True)


# --- a signed-in user --------------------------------------------------------------------------------


def test_signed_in_user_accepts_only_after_linking_through_the_provider(client, acme, oidc_provider):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=False)
    make_user("ivy@example.com")
    member, raw = _invite(org, owner, team, "ivy@example.com")
    login(client, "ivy@example.com")

    page = client.get(accept_path(member, raw))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "requires single sign-on" in html and "Continue with Acme ID" in html
    assert 'id="accept-form"' not in html
    # Accepting without the identity is refused and changes nothing (page and JSON twin alike).
    assert client.post(accept_path(member, raw)).status_code == 403
    details = client.get(f"/api/0{accept_path(member, raw).replace('/accept/', '/accept-invite/')}")
    assert details.get_json()["requireSso"] is True and details.get_json()["ssoProvider"] == "Acme ID"
    api = client.post(f"/api/0{accept_path(member, raw).replace('/accept/', '/accept-invite/')}")
    assert api.status_code == 400 and api.get_json() == {"details": "unable to accept organization invite"}
    assert db.session.get(OrganizationMember, member.id).user_id is None

    done = _through_provider(client, _continue_form(html), "ivy-sub|ivy@example.com")
    _lands(client, done, org)
    _member_from_invite(org, member, "ivy@example.com")
    identity = _identity_of(org, "ivy@example.com")
    assert identity is not None and identity.ident == "ivy-sub"
    assert invite_keys(client) == set()
    assert INVALID in client.get(accept_path(member, raw)).get_data(as_text=True)


# --- an invitee who is not signed in --------------------------------------------------------------


@pytest.mark.parametrize("allow_jit", [False, True], ids=["no-jit", "jit"])
def test_anonymous_invitee_joins_through_sso_with_the_invites_role_and_teams(
    client, acme, oidc_provider, allow_jit
):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=allow_jit, default_role="member")
    member, raw = _invite(org, owner, team, "pat@example.com")

    page = client.get(accept_path(member, raw))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "Continue with Acme ID" in html
    done = _through_provider(client, _continue_form(html), "pat-sub|pat@example.com")
    _lands(client, done, org)
    row = _member_from_invite(org, member, "pat@example.com")  # the invite's role, not the default
    assert row.user.password_hash is None and row.user.emails[0].is_verified
    assert _identity_of(org, "pat@example.com") is not None
    events = db.session.scalars(select(AuditLogEntry.event)).all()
    assert "member.accept-invite" in events and "member.add" not in events
    with client.session_transaction() as sess:
        assert "_next" not in sess and "invite_token" not in sess
    # Nothing stale is left to send a later visit of the sign-in page back to the used link.
    assert client.get("/auth/login/").headers["Location"] == "/organizations/acme/"


def test_invite_to_the_verified_email_is_used_without_the_link(client, acme, oidc_provider):
    """No session invite: the provider-verified email matches a live invite (spec §1.6)."""
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=True)
    member, _raw = _invite(org, owner, team, "quinn@example.com")
    done = _through_provider(client, "/auth/sso/acme/", "quinn-sub|quinn@example.com")
    _lands(client, done, org)
    _member_from_invite(org, member, "quinn@example.com")


@pytest.mark.parametrize("allow_jit", [False, True], ids=["no-jit", "jit"])
def test_identity_with_another_email_does_not_consume_the_invite(client, acme, oidc_provider, allow_jit):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=allow_jit)
    member, raw = _invite(org, owner, team, "rita@example.com")
    html = client.get(accept_path(member, raw)).get_data(as_text=True)

    done = _through_provider(client, _continue_form(html), "rob-sub|rob@example.com")
    db.session.expire_all()
    still = db.session.get(OrganizationMember, member.id)
    assert still.user_id is None and still.email == "rita@example.com" and still.token_hash
    rob = _user("rob@example.com")
    if allow_jit:
        # Just in time, with the provider's default role — the invite stays for rita.
        assert done.status_code == 303 and rob is not None
        assert orgs.get_membership(org, rob).role == "member"
    else:
        assert done.status_code == 403 and rob is None
        text = done.get_data(as_text=True)
        assert "rita@example.com" in text and "rob@example.com" in text


def test_signed_in_identity_with_another_email_does_not_consume_an_invite_by_email(
    client, acme, oidc_provider
):
    """Without the link, only the provider-verified address counts, not the account's own email."""
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=False)
    make_user("sam@example.com")
    member, _raw = _invite(org, owner, team, "sam@example.com")
    login(client, "sam@example.com")
    done = _through_provider(client, "/auth/sso/acme/", "sam-sub|sam@elsewhere.example")
    assert done.status_code == 403
    db.session.expire_all()
    assert db.session.get(OrganizationMember, member.id).user_id is None


def test_existing_account_links_after_signing_in_and_lands_in_the_org(client, acme, oidc_provider):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=False)
    make_user("dana@example.com")
    member, raw = _invite(org, owner, team, "dana@example.com")
    html = client.get(accept_path(member, raw)).get_data(as_text=True)

    asked = _through_provider(client, _continue_form(html), "dana-sub|dana@example.com")
    # Never linked by email alone: sign in with the password first.
    assert asked.status_code == 303 and asked.headers["Location"].startswith("/auth/login/acme/")
    assert _identity_of(org, "dana@example.com") is None
    assert "Sign in with its password to link it" in client.get(asked.headers["Location"]).get_data(
        as_text=True
    )
    signed = client.post(
        "/auth/login/acme/", data={"op": "login", "username": "dana@example.com", "password": PASSWORD}
    )
    assert signed.headers["Location"] == "/auth/sso/acme/link/"
    _lands(client, client.post("/auth/sso/acme/link/"), org)
    _member_from_invite(org, member, "dana@example.com")
    assert _identity_of(org, "dana@example.com").ident == "dana-sub"


def test_landing_page_offers_sso_first_to_anonymous_visitors(client, acme, oidc_provider):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True)
    member, raw = _invite(org, owner, team, "una@example.com")
    html = client.get(accept_path(member, raw)).get_data(as_text=True)
    action = _continue_form(html)
    assert action == "/auth/sso/acme/"
    # The provider's button is the main action; signing in with a password is the aside.
    assert html.index("Continue with Acme ID") < html.index('id="invite-password-options"')
    assert 'href="/auth/register/"' not in html  # SSO is required: no password account to create
    with client.session_transaction() as sess:
        assert sess["invite_member_id"] == member.id


def test_optional_sso_landing_page_leads_with_the_provider_and_keeps_password_ways(
    client, acme, oidc_provider
):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=False)
    member, raw = _invite(org, owner, team, "vic@example.com")
    html = client.get(accept_path(member, raw)).get_data(as_text=True)
    assert _continue_form(html) == "/auth/sso/acme/"
    options = html.index('id="invite-password-options"')
    assert html.index("Continue with Acme ID") < options
    assert html.index('href="/auth/register/"') > options  # still possible, as the aside


def test_continue_form_carries_its_csrf_token(app, client, acme, oidc_provider):
    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True)
    member, raw = _invite(org, owner, team, "wes@example.com")
    app.config["WTF_CSRF_ENABLED"] = True
    html = client.get(accept_path(member, raw)).get_data(as_text=True)
    form = html[html.index('<form id="sso-continue-form"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post("/auth/sso/acme/").status_code == 400  # no token: refused
    started = client.post(_continue_form(html), data={"csrf_token": token})
    assert started.status_code == 303 and started.headers["Location"].startswith(oidc_provider.issuer)
    back = op_sign_in(started.headers["Location"], "wes-sub|wes@example.com")
    _lands(client, client.get(back.removeprefix(APP_BASE)), org)
    _member_from_invite(org, member, "wes@example.com")


def test_existing_account_with_two_factor_links_and_joins(client, acme, oidc_provider):
    """Password, then the second factor, then the link: the invite is accepted at the end."""
    from tests.twofactor_helpers import code, enroll

    org, owner, team = acme
    configure(org, owner, oidc_provider, required=True, allow_jit=False)
    enroll(make_user("tess@example.com"))
    member, raw = _invite(org, owner, team, "tess@example.com")
    html = client.get(accept_path(member, raw)).get_data(as_text=True)
    asked = _through_provider(client, _continue_form(html), "tess-sub|tess@example.com")
    client.get(asked.headers["Location"])
    password = client.post(
        "/auth/login/acme/", data={"op": "login", "username": "tess@example.com", "password": PASSWORD}
    )
    assert password.headers["Location"] == "/auth/2fa/"
    assert db.session.get(OrganizationMember, member.id).user_id is None
    second = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert second.headers["Location"] == "/auth/sso/acme/link/"
    _lands(client, client.post("/auth/sso/acme/link/"), org)
    _member_from_invite(org, member, "tess@example.com")
