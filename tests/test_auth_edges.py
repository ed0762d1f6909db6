"""Edges found in review: inline validation of other fields, the no-organization page per mode."""

from __future__ import annotations

from typing import Any

import pytest

from tests.factories import login, make_user


@pytest.mark.parametrize("settings", [{"ALLOW_REGISTRATION": True}])
@pytest.mark.parametrize("field", ["name", "password", "op", "x" * 300])
@pytest.mark.parametrize("htmx", [True, False])
def test_inline_validation_only_for_the_email_field(client: Any, field: str, htmx: bool) -> None:
    headers = {"HX-Request": "true"} if htmx else {}
    resp = client.post(
        "/auth/login/", data={"op": "register", "_validate": field, "name": ""}, headers=headers
    )
    assert resp.status_code == 400


@pytest.mark.parametrize("settings", [{"ALLOW_REGISTRATION": True}])
def test_inline_email_validation_answers_the_error_slot(client: Any) -> None:
    resp = client.post(
        "/auth/login/",
        data={"op": "register", "_validate": "username", "username": "nope"},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 200
    body = resp.get_data(as_text=True)
    assert body.strip().startswith('<small id="register-username-error"')
    assert "Enter a valid email address." in body


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": False}])
def test_no_organization_page_sends_multi_org_users_to_create_one(client: Any) -> None:
    make_user("solo@example.com")
    login(client, "solo@example.com")
    resp = client.get("/organizations/")
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/organizations/new/"


def test_no_organization_page_in_single_org_mode(client: Any) -> None:
    make_user("solo@example.com")
    assert login(client, "solo@example.com").headers["Location"] == "/organizations/"
    resp = client.get("/organizations/")
    assert resp.status_code == 403
    assert "belong to any organization" in resp.get_data(as_text=True)


def _failed_login_ip(client: Any, **headers: str) -> str | None:
    from sqlalchemy import select

    from onboarding.audit.models import AuditLogEntry
    from onboarding.extensions import db

    client.post(
        "/auth/login/",
        data={"op": "login", "username": "who@example.com", "password": "wrong password"},
        headers=headers,
        environ_base={"REMOTE_ADDR": "10.0.0.2"},
    )
    entry = db.session.scalar(
        select(AuditLogEntry)
        .where(AuditLogEntry.event == "user.login.failure")
        .order_by(AuditLogEntry.id.desc())
    )
    return entry.ip_address if entry else None


def test_forwarded_for_ignored_without_trusted_proxies(client: Any) -> None:
    assert _failed_login_ip(client, **{"X-Forwarded-For": "203.0.113.9"}) == "10.0.0.2"


@pytest.mark.parametrize("settings", [{"TRUSTED_PROXIES": 1}])
def test_forwarded_for_used_behind_one_trusted_proxy(client: Any) -> None:
    # The proxy appends the address it saw; anything the client put before it is not trusted.
    assert _failed_login_ip(client, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}) == "203.0.113.9"


@pytest.mark.parametrize("settings", [{"TRUSTED_PROXIES": 1, "LOGIN_FAILURES_PER_IP": 2}])
def test_ip_throttle_counts_the_forwarded_client(client: Any) -> None:
    for _ in range(2):
        _failed_login_ip(client, **{"X-Forwarded-For": "203.0.113.9"})
    data = {"op": "login", "username": "other@example.com", "password": "wrong password"}
    throttled = client.post("/auth/login/", data=data, headers={"X-Forwarded-For": "203.0.113.9"})
    assert throttled.status_code == 429
    other = client.post("/auth/login/", data=data, headers={"X-Forwarded-For": "203.0.113.10"})
    assert other.status_code == 422


def test_hash_upgraded_on_login_when_parameters_change(app: Any, client: Any) -> None:
    from onboarding.accounts.service import get_user_by_email
    from onboarding.extensions import db

    user = make_user("rehash@example.com")
    old = user.password_hash
    assert "m=8," in old  # the cheap test parameters
    app.config["ARGON2_MEMORY_COST"] = 16
    assert login(client, "rehash@example.com").status_code == 303
    db.session.expire_all()
    new = get_user_by_email("rehash@example.com").password_hash
    assert new != old and "m=16," in new


def test_disabled_account_message_reaches_htmx(client: Any) -> None:
    make_user("off@example.com", active=False)
    resp = login(client, "off@example.com", headers={"HX-Request": "true"})
    assert resp.status_code == 422  # a status htmx swaps (403 is not swapped)
    body = resp.get_data(as_text=True)
    assert "This account has been disabled" in body and "<html" not in body


def test_closed_registration_reloads_htmx_page(client: Any) -> None:
    resp = client.post(
        "/auth/login/",
        data={"op": "register", "name": "A", "username": "a@example.com", "password": "x" * 12},
        headers={"HX-Request": "true"},
    )
    assert resp.status_code == 403
    assert resp.headers["HX-Refresh"] == "true"
