"""Any request, however odd, gets a 4xx, never a 5xx (issue 11; SECURITY.md): every URL of the app and
every form, with huge and negative numbers, non-ASCII, NUL, empty and very long values, as a signed-in
superuser (so the pages behind sign-in are reached too). Bounded so that it runs in seconds per database.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from onboarding.extensions import db
from tests.factories import default_org, login, make_member, make_user

ODD = [
    "99999999999999999999999999",
    "-1",
    "0",
    "",
    "ünï\u3002x",
    "a\x00b",
    "%00",
    "x" * 3000,
    "../../etc/passwd",
    "9" * 19,
]
# Every form field name the app uses (a form ignores the ones it does not have).
FIELDS = [
    "op", "email", "emails", "username", "password", "name", "slug", "organization", "role", "teams",
    "otp", "code", "session_id", "url", "events", "confirm", "max_uses", "expires_days",
    "allowed_domains", "require_approval", "relay_count", "avatar_type", "new_email", "current_password",
    "new_password", "q", "page", "next", "scopes", "issuer", "client_id", "client_secret", "member_id",
]  # fmt: skip
SKIP = ("/static/", "/metrics", "/auth/logout/")  # signing out would leave the rest unreached


def _rules(app: Any) -> list[tuple[str, list[str]]]:
    found = []
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(SKIP) or rule.endpoint == "static":
            continue
        methods = sorted((rule.methods or set()) & {"GET", "POST", "PUT", "DELETE"})
        found.append((rule.rule, methods))
    return sorted(found)


def _fill(rule: str, value: str) -> str:
    from urllib.parse import quote

    return re.sub(r"<(?:\w+:)?\w+>", quote(value, safe="") or "x", rule)


@pytest.fixture
def signed_in(app):
    user = make_user("root@example.com", superuser=True)
    make_member(default_org(), user, role="owner")
    client = app.test_client()
    assert login(client, "root@example.com").status_code == 303
    return client


def _check(client: Any, method: str, path: str, value: str) -> None:
    query = {"page": value, "next": value, "s": value, "q": value}
    if method == "GET":
        resp = client.get(path, query_string=query)
    elif path.startswith("/api/"):
        resp = client.open(path, method=method, json={f: value for f in FIELDS})
    else:
        resp = client.open(path, method=method, data={f: value for f in FIELDS})
    db.session.rollback()
    if resp.status_code in (302, 303) and "/auth/login/" in resp.headers.get("Location", ""):
        login(client, "root@example.com")  # e.g. a password change ended the session: sign in again
    assert resp.status_code < 500, (method, path[:200], repr(value[:50]), resp.status_code)


@pytest.mark.parametrize("value", ODD, ids=lambda v: repr(v[:12]))
def test_every_url_and_form_with_an_odd_value(app, signed_in, value):
    for rule, methods in _rules(app):
        for method in methods:
            _check(signed_in, method, _fill(rule, value), value)


@settings(
    max_examples=100,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_random_odd_values_anywhere(app, signed_in, data):
    rule, methods = data.draw(st.sampled_from(_rules(app)))
    method = data.draw(st.sampled_from(methods))
    value = data.draw(
        st.one_of(
            st.sampled_from(ODD),
            st.text(max_size=40),
            st.integers(min_value=-(2**80), max_value=2**80).map(str),
        )
    )
    _check(signed_in, method, _fill(rule, value), value)
