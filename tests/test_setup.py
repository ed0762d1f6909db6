"""The one-time setup link: the first visitor creates the first superuser and names the organization."""

from __future__ import annotations

from typing import Any

import pytest

from onboarding.accounts.service import get_user_by_email
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.setup import service as setup
from tests.factories import default_org, make_user

GOOD = {
    "name": "Ada Admin",
    "email": "Ada@Example.com",
    "password": "a long enough passphrase",
    "organization": "Acme",
}


def _token() -> str:
    token = setup.issue_token()
    db.session.commit()
    return token


def test_link_shows_the_form_without_leaking_referrer(client: Any) -> None:
    token = _token()
    resp = client.get(f"/setup/{token}/")
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'id="setup-form"' in html
    assert 'value="Default"' in html  # the organization name to confirm or change
    assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_link_creates_superuser_owner_and_renames_org(client: Any) -> None:
    token = _token()
    resp = client.post(f"/setup/{token}/", data=GOOD)
    assert resp.status_code == 303
    org = default_org()
    assert resp.headers["Location"] == f"/organizations/{org.slug}/"
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    db.session.expire_all()
    user = get_user_by_email("ada@example.com")
    assert user is not None
    assert user.email == "ada@example.com" and user.is_superuser and user.is_staff
    assert user.emails[0].is_verified
    assert orgs.get_membership(org, user).role == "owner"
    assert default_org().name == "Acme"
    # Signed in: the organization home answers.
    home = client.get(resp.headers["Location"])
    assert home.status_code == 200 and "Acme" in home.get_data(as_text=True)


def test_link_works_once(client: Any) -> None:
    token = _token()
    assert client.post(f"/setup/{token}/", data=GOOD).status_code == 303
    again = client.get(f"/setup/{token}/")
    assert again.status_code == 404
    assert "not valid" in again.get_data(as_text=True)
    assert again.headers["Referrer-Policy"] == "no-referrer"
    other = {**GOOD, "email": "eve@example.com"}
    assert client.post(f"/setup/{token}/", data=other).status_code == 404
    assert get_user_by_email("eve@example.com") is None


def test_refused_when_a_superuser_exists(client: Any) -> None:
    token = _token()
    make_user("root@example.com", superuser=True)
    assert client.get(f"/setup/{token}/").status_code == 404
    assert client.post(f"/setup/{token}/", data=GOOD).status_code == 404
    assert get_user_by_email("ada@example.com") is None


def test_a_new_token_replaces_the_old(client: Any) -> None:
    old = _token()
    new = _token()
    assert client.get(f"/setup/{old}/").status_code == 404
    assert client.get(f"/setup/{new}/").status_code == 200


@pytest.mark.parametrize(
    "bad",
    ["x", "A" * 43, "A" * 500, "%C3%A9t%C3%A9", "abc%00def", "..%2F..%2Fetc", "%F0%9F%92%A9" * 3],
)
def test_bad_tokens_404(client: Any, bad: str) -> None:
    _token()
    resp = client.get(f"/setup/{bad}/")
    assert resp.status_code == 404
    assert "Traceback" not in resp.get_data(as_text=True)
    assert client.post(f"/setup/{bad}/", data=GOOD).status_code == 404
    assert get_user_by_email("ada@example.com") is None


def test_no_token_issued_404(client: Any) -> None:
    assert client.get("/setup/anything/").status_code == 404


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("email", "not-an-email", "Enter a valid email address."),
        ("name", "", "Enter your name."),
        ("password", "short", "This password is too short."),
        ("password", "password123", "This password is too common."),
    ],
)
def test_invalid_form_422_keeps_link_valid(client: Any, field: str, value: str, message: str) -> None:
    token = _token()
    resp = client.post(f"/setup/{token}/", data={**GOOD, field: value})
    assert resp.status_code == 422
    assert message in resp.get_data(as_text=True)
    assert setup.token_valid(token)
    assert client.post(f"/setup/{token}/", data=GOOD).status_code == 303


def test_email_of_existing_user_is_refused(client: Any) -> None:
    make_user("ada@example.com")
    token = _token()
    resp = client.post(f"/setup/{token}/", data=GOOD)
    assert resp.status_code == 422
    assert "An account is already registered with that email address." in resp.get_data(as_text=True)
    assert setup.token_valid(token)


def test_htmx_success_redirects_the_page(client: Any) -> None:
    token = _token()
    resp = client.post(f"/setup/{token}/", data=GOOD, headers={"HX-Request": "true"})
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"] == f"/organizations/{default_org().slug}/"


@pytest.mark.parametrize("settings", [{"SINGLE_ORGANIZATION": False}])
def test_multi_org_setup_has_no_org_to_rename(client: Any) -> None:
    token = _token()
    page = client.get(f"/setup/{token}/").get_data(as_text=True)
    assert 'name="organization"' not in page
    resp = client.post(f"/setup/{token}/", data={k: v for k, v in GOOD.items() if k != "organization"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/organizations/new/"
    user = get_user_by_email("ada@example.com")
    assert user is not None and user.is_superuser


def test_simultaneous_submissions_create_one_superuser(app: Any) -> None:
    import threading

    token = _token()
    statuses: list[int] = []
    barrier = threading.Barrier(6, timeout=30)

    def submit(i: int) -> None:
        client = app.test_client()
        barrier.wait()
        resp = client.post(f"/setup/{token}/", data={**GOOD, "email": f"admin{i}@example.com"})
        statuses.append(resp.status_code)

    threads = [threading.Thread(target=submit, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(statuses).count(303) == 1, statuses
    assert set(statuses) <= {303, 404, 422}
    db.session.expire_all()
    assert orgs.count_superusers() == 1


def test_naming_the_organization_derives_its_slug(client: Any) -> None:
    """Bug: the organization renamed at setup kept the slug ``default``."""
    token = _token()
    resp = client.post(f"/setup/{token}/", data={**GOOD, "organization": "Acme Rockets"})
    assert resp.status_code == 303
    db.session.expire_all()
    assert default_org().slug == "acme-rockets"
    assert resp.headers["Location"] == "/organizations/acme-rockets/"


def test_keeping_the_default_name_keeps_its_slug(client: Any) -> None:
    before = default_org().slug
    token = _token()
    client.post(f"/setup/{token}/", data={**GOOD, "organization": default_org().name})
    db.session.expire_all()
    assert default_org().slug == before
