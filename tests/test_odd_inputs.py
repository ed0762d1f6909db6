"""No 500 on any input (issue 11): huge ids and page numbers, odd redirect targets, LIKE wildcards."""

from __future__ import annotations

import pytest

from onboarding.extensions import db
from tests.factories import default_org, login, make_member, make_user

TOKEN = "A" * 43  # the shape of a real one-time token
HUGE = ["99999999999999999999999999", str(2**63), str(2**31), "-1", "-99999999999999999999", "0"]


@pytest.fixture
def superuser_client(app):
    user = make_user("root@example.com", superuser=True)
    make_member(default_org(), user, role="owner")
    client = app.test_client()
    assert login(client, "root@example.com").status_code == 303
    return client


def _paths(slug: str, number: str) -> list[tuple[str, str, dict[str, str] | None]]:
    return [
        ("GET", f"/account/recover/confirm/{number}/{TOKEN}/", None),
        ("POST", f"/account/recover/confirm/{number}/{TOKEN}/", {"password": "a long new passphrase"}),
        ("GET", f"/account/confirm-email/{number}/{TOKEN}/", None),
        ("GET", f"/account/change-email/{number}/{TOKEN}/", None),
        ("GET", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("PUT", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("DELETE", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("GET", f"/organizations/{slug}/audit-log/?page={number}", None),
        ("GET", f"/manage/users/?page={number}", None),
        ("GET", f"/manage/errors/?page={number}", None),
        ("POST", "/account/settings/", {"op": "end-session", "session_id": number}),
        ("GET", f"/organizations/{slug}/members/?page={number}", None),
    ]


@pytest.mark.parametrize("number", HUGE)
def test_huge_and_negative_numbers_are_a_clean_4xx_or_the_first_page(superuser_client, number):
    slug = default_org().slug
    for method, path, form in _paths(slug, number):
        if method == "PUT":
            resp = superuser_client.put(path, json={"reinvite": True})
        else:
            resp = superuser_client.open(path, method=method, data=form)
        db.session.rollback()
        assert resp.status_code < 500, (method, path, resp.status_code)
        if "page=" in path:
            assert resp.status_code == 200, path  # a page out of range is the first (or an empty) page


def test_one_page_parser():
    from onboarding.web.converters import page_number

    assert page_number(None) == 1
    assert page_number("") == 1
    assert page_number("3") == 3
    assert page_number(" 3 ") == 1  # only plain digits
    assert page_number("-2") == 1
    assert page_number("0") == 1
    assert page_number("abc") == 1
    assert page_number("٣") == 1  # a digit, but not an ASCII one
    assert page_number(str(10**30)) == 1
    assert page_number(str(2**31)) == 1
    assert page_number("100000") == 100000
