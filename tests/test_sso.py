"""SSO over OpenID Connect against a real provider (npm oidc-provider on loopback): spec §1.3, §1.6, §3."""

from __future__ import annotations

import time
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from onboarding.accounts.models import User
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthIdentity, AuthProvider, OrganizationMember, OrgFlags
from onboarding.sso import oidc
from onboarding.sso import service as sso
from onboarding.sso.views import FLOW_INVALID
from tests.factories import PASSWORD, login, make_member, make_org, make_user
from tests.oidc_helpers import APP_BASE, configure, oidc_provider_fixture, op_sign_in, sso_login, start  # noqa: F401
from tests.twofactor_helpers import code, enroll

pytestmark = pytest.mark.slow


@pytest.fixture
def acme(app):
    org = make_org("Acme", slug="acme")
    owner = make_user("owner@acme.example")
    make_member(org, owner, role="owner")
    return org, owner


def _signed_in_email(client) -> str | None:
    with client.session_transaction() as sess:
        if "_user_id" not in sess:
            return None
    resp = client.get("/account/settings/security/")
    if resp.status_code != 200:
        return None
    from onboarding.accounts.service import load_session_user

    with client.session_transaction() as sess:
        user = load_session_user(sess["_user_id"])
    return user.email if user else None


def _identities() -> list[tuple[int, str, int]]:
    return [(i.auth_provider_id, i.ident, i.user_id) for i in db.session.scalars(select(AuthIdentity))]


# --- configuration --------------------------------------------------------------------------------


def test_owner_configures_provider_and_secret_is_never_shown(client, acme, oidc_provider):
    org, _ = acme
    login(client, "owner@acme.example")
    page = client.get("/organizations/acme/settings/sso/")
    assert page.status_code == 200 and 'id="sso-settings-form"' in page.get_data(as_text=True)
    secret = oidc_provider.clients["acme"]["client_secret"]
    form = {
        "name": "Acme ID",
        "issuer": oidc_provider.issuer,
        "client_id": "acme-client",
        "client_secret": secret,
        "required": "optional",
        "default_role": "admin",
        "allow_jit": "y",
    }
    resp = client.post("/organizations/acme/settings/sso/", data=form)
    assert resp.status_code == 303, resp.get_data(as_text=True)
    provider = orgs.auth_provider_for(org)
    assert provider is not None and not provider.requires_sso and provider.default_role == "admin"
    assert provider.config["metadata"]["token_endpoint"].startswith(oidc_provider.issuer)
    again = client.get("/organizations/acme/settings/sso/").get_data(as_text=True)
    assert secret not in again and "acme-client" in again
    # Saving without a secret keeps the stored one.
    assert (
        client.post("/organizations/acme/settings/sso/", data={**form, "client_secret": ""}).status_code
        == 303
    )
    db.session.expire_all()
    stored = orgs.auth_provider_for(org).config["client_secret"]
    assert secret not in stored  # encrypted at rest
    from onboarding import secretbox

    assert secretbox.unseal(stored, "sso client secret") == secret
    entries = db.session.scalars(select(AuditLogEntry.data).where(AuditLogEntry.event.like("sso.%"))).all()
    assert entries and all(secret not in str(e) for e in entries)


def test_configuration_checks_the_discovery_issuer(client, acme, oidc_provider):
    login(client, "owner@acme.example")
    wrong = oidc_provider.issuer.replace("127.0.0.1", "localhost")  # same server, another issuer name
    resp = client.post(
        "/organizations/acme/settings/sso/",
        data={
            "name": "X",
            "issuer": wrong,
            "client_id": "acme-client",
            "client_secret": "s",
            "required": "required",
            "default_role": "member",
        },
    )
    assert resp.status_code == 422
    assert "names the issuer" in resp.get_data(as_text=True)
    assert orgs.auth_provider_for(acme[0]) is None


def test_configuration_reports_an_unreachable_issuer(client, acme):
    from tests.conftest import free_port

    login(client, "owner@acme.example")
    resp = client.post(
        "/organizations/acme/settings/sso/",
        data={
            "name": "X",
            "issuer": f"http://127.0.0.1:{free_port()}",
            "client_id": "c",
            "client_secret": "s",
            "required": "required",
            "default_role": "member",
        },
    )
    assert resp.status_code == 422 and "Could not read" in resp.get_data(as_text=True)


def test_settings_are_owner_only(client, acme):
    make_member(acme[0], make_user("mgr@acme.example"), role="manager")
    login(client, "mgr@acme.example")
    assert client.get("/organizations/acme/settings/sso/").status_code == 403


def test_sso_refused_while_2fa_is_required(acme, oidc_provider):
    org, owner = acme
    org.set_flag(OrgFlags.REQUIRE_2FA, True)
    with pytest.raises(sso.SSOError):
        configure(org, owner, oidc_provider)


# --- the redirect dance ---------------------------------------------------------------------------


def test_org_login_page_offers_the_provider(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider)
    html = client.get("/auth/login/acme/").get_data(as_text=True)
    assert "Continue with Acme ID" in html and 'id="sso-continue-form"' in html
    assert "Continue with" not in client.get("/auth/login/").get_data(as_text=True)


def test_authorization_request_has_state_nonce_and_pkce(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider)
    url = start(client, "acme")
    query = parse_qs(urlsplit(url).query)
    assert url.startswith(oidc_provider.issuer + "/auth?")
    assert query["response_type"] == ["code"] and query["client_id"] == ["acme-client"]
    assert query["redirect_uri"] == [f"{APP_BASE}/auth/sso/acme/callback/"]
    assert query["code_challenge_method"] == ["S256"] and len(query["code_challenge"][0]) == 43
    assert len(query["state"][0]) >= 43 and len(query["nonce"][0]) >= 43
    with client.session_transaction() as sess:
        flow = sess["_sso_flow"]
        assert flow["state"] == query["state"][0] and flow["org_id"] == acme[0].id


def test_just_in_time_account_and_membership(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider, allow_jit=True, default_role="admin")
    resp = sso_login(client, "acme", "jit1")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    user = db.session.scalar(select(User).where(User.email == "jit1@example.com"))
    assert user is not None and user.password_hash is None and user.emails[0].is_verified
    member = orgs.get_membership(org, user)
    assert member is not None and member.role == "admin"
    provider = orgs.auth_provider_for(org)
    assert _identities() == [(provider.id, "jit1", user.id)]
    assert client.get("/organizations/acme/").status_code == 200
    with client.session_transaction() as sess:
        assert abs(sess[f"sso_s:{org.id}"]["ts"] - time.time()) < 10
        assert "_sso_flow" not in sess


def test_linked_identity_signs_in_again_without_duplicates(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    sso_login(client, "acme", "again")
    client.post("/auth/logout/")
    assert _signed_in_email(client) is None
    resp = sso_login(client, "acme", "again")
    assert resp.status_code == 303
    assert _signed_in_email(client) == "again@example.com"
    assert db.session.scalar(select(func.count(User.id)).where(User.email == "again@example.com")) == 1
    assert len(_identities()) == 1


def test_identity_is_keyed_by_subject_not_email(client, acme, oidc_provider):
    """Two subjects asserting the same email: the second is not signed in as the first's account."""
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    sso_login(client, "acme", "first|shared@example.com")
    client.post("/auth/logout/")
    resp = sso_login(client, "acme", "second|shared@example.com")
    # The email belongs to an account already: its owner must sign in to link; nothing is linked yet.
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login/acme/")
    assert _signed_in_email(client) is None
    assert [ident for _, ident, _ in _identities()] == ["first"]


def test_signed_in_member_links_their_identity(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider)
    member = make_user("carol@acme.example")
    make_member(org, member)
    login(client, "carol@acme.example")
    resp = sso_login(client, "acme", "carol-at-idp|carol@idp.example")
    assert resp.status_code == 303 and resp.headers["Location"] == "/organizations/acme/"
    assert _identities() == [(orgs.auth_provider_for(org).id, "carol-at-idp", member.id)]
    assert client.get("/organizations/acme/").status_code == 200
    assert db.session.scalar(select(AuditLogEntry).where(AuditLogEntry.event == "sso.link"))


def test_existing_account_is_linked_only_after_signing_in(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider, allow_jit=True)
    dave = make_user("dave@example.com")
    make_member(org, dave)
    resp = sso_login(client, "acme", "dave-sub|dave@example.com")
    assert resp.status_code == 303
    assert resp.headers["Location"].startswith("/auth/login/acme/?next=")
    assert _signed_in_email(client) is None and _identities() == []
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Sign in with its password to link it" in page
    signed = client.post(
        "/auth/login/acme/", data={"op": "login", "username": "dave@example.com", "password": PASSWORD}
    )
    assert signed.headers["Location"] == "/auth/sso/acme/link/"
    confirm = client.get("/auth/sso/acme/link/")
    assert confirm.status_code == 200 and 'id="sso-link-form"' in confirm.get_data(as_text=True)
    done = client.post("/auth/sso/acme/link/")
    assert done.status_code == 303 and done.headers["Location"] == "/organizations/acme/"
    assert _identities() == [(orgs.auth_provider_for(org).id, "dave-sub", dave.id)]
    # From now on the identity signs in directly.
    client.post("/auth/logout/")
    assert (
        sso_login(client, "acme", "dave-sub|dave@example.com").headers["Location"] == "/organizations/acme/"
    )
    assert _signed_in_email(client) == "dave@example.com"


def test_pending_link_without_sign_in_links_nothing(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider)
    make_member(acme[0], make_user("erin@example.com"))
    sso_login(client, "acme", "erin-sub|erin@example.com")
    resp = client.post("/auth/sso/acme/link/")
    assert resp.status_code == 302 and "/auth/login/" in resp.headers["Location"]
    assert _identities() == []


def test_unknown_identity_without_jit_is_refused(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=False)
    resp = sso_login(client, "acme", "stranger")
    assert resp.status_code == 403
    assert "does not create accounts automatically" in resp.get_data(as_text=True)
    assert _signed_in_email(client) is None
    assert db.session.scalar(select(User).where(User.email == "stranger@example.com")) is None


def test_user_with_2fa_still_enters_a_code_after_sso(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider)
    frank = make_user("frank@example.com")
    make_member(org, frank)
    enroll(frank)
    db.session.add(
        AuthIdentity(user_id=frank.id, auth_provider_id=orgs.auth_provider_for(org).id, ident="frank")
    )
    db.session.commit()
    resp = sso_login(client, "acme", "frank")
    assert resp.headers["Location"] == "/auth/2fa/"
    assert _signed_in_email(client) is None
    done = client.post("/auth/2fa/", data={"otp": code(steps=1)})
    assert done.headers["Location"] == "/organizations/acme/"
    assert client.get("/organizations/acme/").status_code == 200  # SSO marked fresh after the code


# --- refusals with a clear page -------------------------------------------------------------------


def _callback_parts(client, slug, account):
    back = op_sign_in(start(client, slug), account)
    parts = urlsplit(back)
    return parts.path, parse_qs(parts.query)


def test_tampered_state_is_refused(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    path, query = _callback_parts(client, "acme", "mallory")
    tampered = query["state"][0][:-2] + ("AA" if not query["state"][0].endswith("AA") else "BB")
    resp = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': tampered})}")
    assert resp.status_code == 400
    html = resp.get_data(as_text=True)
    assert "Single sign-on failed" in html and FLOW_INVALID in html
    assert _signed_in_email(client) is None and _identities() == []


def test_missing_state_and_no_flow_are_refused(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    assert client.get("/auth/sso/acme/callback/?code=abc").status_code == 400
    assert client.get("/auth/sso/acme/callback/?code=abc&state=xyz").status_code == 400
    resp = client.get("/auth/sso/acme/callback/?error=access_denied&state=x")
    assert resp.status_code == 400 and "did not sign you in" in resp.get_data(as_text=True)


def test_replayed_code_is_refused(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    path, query = _callback_parts(client, "acme", "replay")
    first = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': query['state'][0]})}")
    assert first.status_code == 303
    client.post("/auth/logout/")
    # The same answer again: the flow it belonged to is gone.
    again = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': query['state'][0]})}")
    assert again.status_code == 400 and FLOW_INVALID in again.get_data(as_text=True)
    # Even spliced into a fresh flow (valid state), the provider refuses a used code.
    fresh = parse_qs(urlsplit(start(client, "acme")).query)["state"][0]
    spliced = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': fresh})}")
    assert spliced.status_code == 400
    assert "refused the sign-in code" in spliced.get_data(as_text=True)
    assert _signed_in_email(client) is None


def test_wrong_issuer_in_the_id_token_is_refused(client, acme, oidc_provider):
    org, owner = acme
    provider = configure(org, owner, oidc_provider, allow_jit=True)
    path, query = _callback_parts(client, "acme", "wrongiss")
    # The organization now expects another issuer: the token from this one must not count.
    provider.config = {**provider.config, "issuer": "https://idp.other.example"}
    db.session.commit()
    resp = client.get(f"{path}?{urlencode({'code': query['code'][0], 'state': query['state'][0]})}")
    assert resp.status_code == 400
    assert "not valid here" in resp.get_data(as_text=True) or "issued by" in resp.get_data(as_text=True)
    assert _signed_in_email(client) is None and _identities() == []


def test_unverified_email_is_refused(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider, allow_jit=True)
    resp = sso_login(client, "acme", "unverified-ursula")
    assert resp.status_code == 400
    assert "has not verified the email address" in resp.get_data(as_text=True)
    assert _signed_in_email(client) is None
    assert db.session.scalar(select(User).where(User.email == "unverified-ursula@example.com")) is None


@pytest.fixture
def two_orgs(acme, oidc_provider):
    org_a, owner = acme
    org_b = make_org("Beta", slug="beta")
    make_member(org_b, owner, role="owner")
    configure(org_a, owner, oidc_provider, allow_jit=True)
    configure(org_b, owner, oidc_provider, slug="beta", allow_jit=False)
    return org_a, org_b


def test_identity_from_another_orgs_provider_does_not_sign_in(client, two_orgs):
    org_a, org_b = two_orgs
    assert sso_login(client, "acme", "gina").status_code == 303  # JIT into Acme
    gina = db.session.scalar(select(User).where(User.email == "gina@example.com"))
    client.post("/auth/logout/")
    # Same person, same identity provider, but Beta's provider: Acme's link means nothing there.
    resp = sso_login(client, "beta", "gina")
    assert resp.status_code == 303 and resp.headers["Location"].startswith("/auth/login/beta/")
    assert _signed_in_email(client) is None
    assert orgs.get_membership(org_b, gina) is None
    assert [(p, i) for p, i, _ in _identities()] == [(orgs.auth_provider_for(org_a).id, "gina")]


def test_code_for_one_org_is_refused_at_anothers_callback(client, two_orgs):
    path_a, query_a = _callback_parts(client, "acme", "henry")
    # Deliver Acme's answer to Beta's callback with Beta's own (valid) state.
    state_b = parse_qs(urlsplit(start(client, "beta")).query)["state"][0]
    resp = client.get(f"/auth/sso/beta/callback/?{urlencode({'code': query_a['code'][0], 'state': state_b})}")
    assert resp.status_code == 400 and "refused the sign-in code" in resp.get_data(as_text=True)
    # And Acme's answer with Acme's state at Beta's callback: the flow belongs to Acme.
    path_a, query_a = _callback_parts(client, "acme", "henry")
    resp = client.get(
        f"/auth/sso/beta/callback/?{urlencode({'code': query_a['code'][0], 'state': query_a['state'][0]})}"
    )
    assert resp.status_code == 400 and FLOW_INVALID in resp.get_data(as_text=True)
    assert _signed_in_email(client) is None and _identities() == []


# --- organizations where SSO is required ----------------------------------------------------------


def test_required_sso_asks_members_to_link_and_keeps_freshness(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider)
    ivy = make_user("ivy@acme.example")
    make_member(org, ivy)
    login(client, "ivy@acme.example")
    resp = client.get("/organizations/acme/")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/auth/sso/acme/?next=/organizations/acme/"
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "requires single sign-on" in page and "Continue with Acme ID" in page
    done = sso_login(client, "acme", "ivy-sub|ivy@acme.example")
    assert done.headers["Location"] == "/organizations/acme/"
    assert client.get("/organizations/acme/").status_code == 200
    # Seven days later the SSO session is stale: sign in with the provider again.
    with client.session_transaction() as sess:
        sess[f"sso_s:{org.id}"] = {"ts": int(time.time()) - 7 * 24 * 3600 - 1}
    stale = client.get("/organizations/acme/")
    assert stale.status_code == 303 and stale.headers["Location"].startswith("/auth/sso/acme/")
    with client.session_transaction() as sess:
        sess[f"sso_s:{org.id}"] = {"ts": int(time.time()) - 6 * 24 * 3600}
    assert client.get("/organizations/acme/").status_code == 200


def test_required_sso_gates_the_organization_api_for_browser_sessions(client, acme, oidc_provider):
    """The JSON API follows the pages: 401 until the member signs in through the provider; a personal
    API token is not a browser session and is not asked to (as in Sentry)."""
    from onboarding.tokens.service import create_token

    org, owner = acme
    configure(org, owner, oidc_provider)
    ivy = make_user("ivy@acme.example")
    make_member(org, ivy, role="manager")
    _token, raw = create_token(ivy, "script", ["org:read", "member:read"])
    db.session.commit()
    login(client, "ivy@acme.example")
    for url in ("/api/0/organizations/acme/", "/api/0/organizations/acme/members/"):
        resp = client.get(url)
        assert resp.status_code == 401, url
        detail = resp.get_json()["detail"]
        assert "requires single sign-on" in detail and "/auth/sso/acme/" in detail
    invite = client.post("/api/0/organizations/acme/members/", json={"email": "new@acme.example"})
    assert invite.status_code == 401
    assert (
        db.session.scalar(select(OrganizationMember).where(OrganizationMember.email == "new@acme.example"))
        is None
    )
    bearer = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/0/organizations/acme/members/", headers=bearer).status_code == 200
    sso_login(client, "acme", "ivy-sub|ivy@acme.example")
    assert client.get("/api/0/organizations/acme/members/").status_code == 200
    with client.session_transaction() as sess:
        sess[f"sso_s:{org.id}"] = {"ts": int(time.time()) - 7 * 24 * 3600 - 1}
    stale = client.get("/api/0/organizations/acme/")
    assert stale.status_code == 401 and "Sign in with Acme ID" in stale.get_json()["detail"]


def test_optional_sso_does_not_gate(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider, required=False)
    make_member(org, make_user("joe@acme.example"))
    login(client, "joe@acme.example")
    assert client.get("/organizations/acme/").status_code == 200


def test_owner_can_reach_sso_settings_while_unlinked(client, acme, oidc_provider):
    configure(acme[0], acme[1], oidc_provider)
    login(client, "owner@acme.example")
    assert client.get("/organizations/acme/").status_code == 303
    assert client.get("/organizations/acme/settings/sso/").status_code == 200


def test_disabling_sso_removes_provider_and_identities(client, acme, oidc_provider):
    org, owner = acme
    configure(org, owner, oidc_provider, allow_jit=True)
    sso_login(client, "acme", "kim")
    client.post("/auth/logout/")
    login(client, "owner@acme.example")
    assert client.post("/organizations/acme/settings/sso/disable/").status_code == 303
    assert db.session.scalar(select(AuthProvider.id)) is None and _identities() == []


def test_oidc_discovery_rejects_non_http_issuers():
    with pytest.raises(oidc.OIDCError):
        oidc.discover("file:///etc/passwd", 1)
