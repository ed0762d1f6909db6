"""Personal API tokens: created with scopes, shown once, stored hashed, revocable, last use recorded;
accepted by /api/0/ as Authorization: Bearer, with scope checks and no CSRF for bearer requests."""

from __future__ import annotations

import re

import pytest
from flask import g
from sqlalchemy import select

from onboarding.api import openapi
from onboarding.api.auth import require_scope
from onboarding.extensions import db
from onboarding.tokens import service as tokens
from onboarding.tokens.models import ApiToken
from tests.conftest import csrf_from
from tests.factories import login, make_user

PAGE = "/account/settings/tokens/"


def _signed_in(app, email="a@example.com", **kw):
    user = make_user(email, **kw)
    client = app.test_client()
    assert login(client, email).status_code == 303
    return user, client


def _create(client, name="deploy", scopes=("org:read",)):
    return client.post(PAGE, data={"name": name, "scopes": list(scopes)})


def _raw_from(resp) -> str:
    match = re.search(r'id="new-token" readonly value="(onb_[^"]+)"', resp.get_data(as_text=True))
    assert match, resp.get_data(as_text=True)
    return match.group(1)


def test_page_needs_sign_in(client):
    assert client.get(PAGE).status_code == 302


def test_create_shows_once_and_stores_only_a_hash(app):
    user, client = _signed_in(app)
    resp = _create(client, scopes=("org:read", "member:write"))
    assert resp.status_code == 201
    assert resp.headers["Cache-Control"] == "no-store"
    raw = _raw_from(resp)
    assert len(raw) > 40
    row = db.session.scalars(select(ApiToken)).one()
    assert row.user_id == user.id and row.scopes == ["org:read", "member:write"]
    assert row.token_hash == tokens.hash_token(raw) and raw not in (
        row.token_hash,
        row.prefix,
        row.scope_list,
    )
    page = client.get(PAGE).get_data(as_text=True)
    assert raw not in page
    assert row.prefix in page and "never" in page  # not used yet


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x"}, "Choose at least one scope."),
        ({"name": "", "scopes": ["org:read"]}, "Give the token a name."),
        ({"name": "x", "scopes": ["admin:all"]}, "is not a valid choice"),
        ({"name": "x" * 65, "scopes": ["org:read"]}, "Field cannot be longer than 64 characters."),
    ],
)
def test_bad_input_is_explained(app, data, message):
    _, client = _signed_in(app)
    resp = client.post(PAGE, data=data)
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert db.session.scalars(select(ApiToken)).first() is None


def test_bearer_token_authenticates_and_records_last_use(app):
    _, client = _signed_in(app)
    raw = _raw_from(_create(client))
    api = app.test_client()  # no session cookie
    assert api.get("/api/0/api-tokens/").status_code == 401
    resp = api.get("/api/0/api-tokens/", headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 200
    body = resp.get_json()
    assert [t["name"] for t in body] == ["deploy"] and body[0]["lastUsed"] is not None
    assert "Set-Cookie" not in resp.headers  # a token request creates no session
    db.session.expire_all()
    assert db.session.scalars(select(ApiToken)).one().last_used_at is not None
    assert "UTC" in client.get(PAGE).get_data(as_text=True).split('class="last-used">')[1][:120]


@pytest.mark.parametrize(
    "header",
    ["Bearer onb_not-a-real-token", "Bearer ", "Basic dXNlcjpwdw==", "Bearer x" * 50, "Bearer \x00"],
)
def test_bad_tokens_get_401_json(client, header):
    resp = client.get("/api/0/api-tokens/", headers={"Authorization": header})
    assert resp.status_code == 401
    assert resp.is_json and resp.get_json()["detail"]
    assert resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_token_and_disabled_user_are_refused(app):
    user, client = _signed_in(app)
    raw = _raw_from(_create(client))
    auth = {"Authorization": f"Bearer {raw}"}
    api = app.test_client()
    assert api.get("/api/0/api-tokens/", headers=auth).status_code == 200
    user.is_active_flag = False
    db.session.commit()
    assert api.get("/api/0/api-tokens/", headers=auth).status_code == 401
    user.is_active_flag = True
    db.session.commit()
    token_id = db.session.scalars(select(ApiToken.id)).one()
    assert client.post(f"{PAGE}{token_id}/revoke/").status_code == 303
    assert api.get("/api/0/api-tokens/", headers=auth).status_code == 401
    assert client.post(f"{PAGE}{token_id}/revoke/").status_code == 404


def test_cannot_revoke_someone_elses_token(app):
    _, client = _signed_in(app)
    _create(client)
    token_id = db.session.scalars(select(ApiToken.id)).one()
    _, other = _signed_in(app, "b@example.com")
    assert other.post(f"{PAGE}{token_id}/revoke/").status_code == 404
    assert other.delete(f"/api/0/api-tokens/{token_id}/").status_code == 404
    assert db.session.get(ApiToken, token_id) is not None


def test_bearer_requests_skip_csrf_session_requests_do_not(app):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("a@example.com")
    client = app.test_client()
    token = csrf_from(client.get("/auth/login/").get_data(as_text=True))
    client.post(
        "/auth/login/",
        data={
            "op": "login",
            "username": "a@example.com",
            "password": "correct horse battery staple",
            "csrf_token": token,
        },
    )
    g.pop("csrf_token", None)  # one app context spans the test's requests; see test_ops_status
    token = csrf_from(client.get(PAGE).get_data(as_text=True))
    raw = _raw_from(client.post(PAGE, data={"name": "a", "scopes": ["user:write"], "csrf_token": token}))
    client.post(PAGE, data={"name": "b", "scopes": ["org:read"], "csrf_token": token})
    first, second = db.session.scalars(select(ApiToken.id).order_by(ApiToken.id)).all()
    # Session-authenticated DELETE without the X-CSRFToken header is refused ...
    assert client.delete(f"/api/0/api-tokens/{second}/").status_code == 400
    assert client.delete(f"/api/0/api-tokens/{second}/", headers={"X-CSRFToken": token}).status_code == 204
    # ... a bearer request needs no CSRF token.
    resp = app.test_client().delete(f"/api/0/api-tokens/{first}/", headers={"Authorization": f"Bearer {raw}"})
    assert resp.status_code == 204


def test_scopes_from_the_registry_are_enforced(app, monkeypatch):
    user = make_user("a@example.com")
    _, read_only = tokens.create_token(user, "r", ["org:read"])
    _, writer = tokens.create_token(user, "w", ["member:write"])
    db.session.commit()
    op = openapi.operation_for("GET", "/api/0/api-tokens/")
    monkeypatch.setattr(op, "scopes", ["member:read"])
    api = app.test_client()
    resp = api.get("/api/0/api-tokens/", headers={"Authorization": f"Bearer {read_only}"})
    assert resp.status_code == 403 and "member:read" in resp.get_json()["detail"]
    assert api.get("/api/0/api-tokens/", headers={"Authorization": f"Bearer {writer}"}).status_code == 200


def test_require_scope_decorator(app):
    user = make_user("a@example.com")
    token, _ = tokens.create_token(user, "r", ["org:read"])

    @require_scope("org:write")
    def view():
        return "ran"

    with app.test_request_context("/api/0/x/"):
        assert view() == "ran"  # a session request: roles decide, not scopes
        g.api_token = token
        resp, status = view()
        assert status == 403 and "org:write" in resp.get_json()["detail"]
        token.scope_list = "org:write"
        assert view() == "ran"


def test_every_api_route_is_in_the_openapi_document(app, client):
    doc = client.get("/api/0/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/0/"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert openapi.operation_for(method, rule.rule), f"{method} {rule.rule} is not registered"
            assert method.lower() in doc["paths"][openapi.openapi_path(rule.rule)]


def test_scope_checkboxes_are_not_each_required(app):
    """One `required` per checkbox would make the browser demand every scope before submitting."""
    _, client = _signed_in(app)
    html = client.get(PAGE).get_data(as_text=True)
    boxes = re.findall(r'<input[^>]*type="checkbox"[^>]*>', html)
    assert len(boxes) == len(tokens.SCOPES)
    assert not any("required" in box for box in boxes)
