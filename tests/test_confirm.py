"""Destructive buttons work without JavaScript: they open a confirmation page holding the real form."""

from __future__ import annotations

import html
import re

from onboarding.extensions import db
from onboarding.orgs.models import OrganizationMember
from tests.factories import login, make_invite, make_member, make_org, make_user


def _confirm_form(page: str, action: str) -> str:
    """The ``c`` value of the confirm button that stands for ``action``."""
    for form in re.findall(r'<form method="get" action="/confirm/".*?</form>', page, re.S):
        if f'hx-post="{action}"' in form:
            return html.unescape(re.search(r'name="c" value="([^"]+)"', form).group(1))  # type: ignore[union-attr]
    raise AssertionError(f"no confirm button for {action}")


def _owner_with_invite(client):  # type: ignore[no-untyped-def]
    org = make_org("Acme", slug="acme")
    owner = make_user("boss@example.com")
    make_member(org, owner, "owner")
    invite, _raw = make_invite(org, "pat@example.com", inviter=owner)
    login(client, owner.email)
    return org, invite


def test_revoke_without_javascript_asks_first_then_acts(client) -> None:
    _org, invite = _owner_with_invite(client)
    action = f"/organizations/acme/members/{invite.id}/revoke/"
    members = client.get("/organizations/acme/members/").get_data(as_text=True)
    token = _confirm_form(members, action)

    page = client.get("/confirm/", query_string={"c": token})
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert "Revoke the invite for pat@example.com?" in body
    assert f'<form id="confirm-form" method="post" action="{action}">' in body
    assert 'name="csrf_token"' in body and 'href="/organizations/acme/members/"' in body  # Cancel goes back
    assert db.session.get(OrganizationMember, invite.id) is not None  # asking changed nothing

    # The confirmation page's form is the real one: the endpoint is the same POST as before.
    assert client.post(action).status_code == 303
    db.session.expire_all()
    assert db.session.get(OrganizationMember, invite.id) is None


def test_the_question_never_shows_in_clear_in_the_address(client) -> None:
    _org, invite = _owner_with_invite(client)
    token = _confirm_form(
        client.get("/organizations/acme/members/").get_data(as_text=True),
        f"/organizations/acme/members/{invite.id}/revoke/",
    )
    assert "pat" not in token and "revoke" not in token


def test_a_forged_or_altered_confirmation_is_not_found(client) -> None:
    _org, invite = _owner_with_invite(client)
    token = _confirm_form(
        client.get("/organizations/acme/members/").get_data(as_text=True),
        f"/organizations/acme/members/{invite.id}/revoke/",
    )
    altered = token[:-6] + ("A" if token[-6] != "A" else "B") + token[-5:]
    assert client.get("/confirm/", query_string={"c": altered}).status_code == 404
    assert client.get("/confirm/", query_string={"c": "Click here to win"}).status_code == 404
    assert client.get("/confirm/").status_code == 404


def test_every_destructive_button_on_the_members_page_has_a_confirmation(client) -> None:
    org, invite = _owner_with_invite(client)
    other = make_member(org, make_user("mia@example.com"), "member")
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    for action in (
        f"/organizations/acme/members/{invite.id}/revoke/",
        f"/organizations/acme/members/{other.id}/remove/",
        "/organizations/acme/leave/",
    ):
        assert _confirm_form(page, action)
    # No destructive action is a one-click POST form any more.
    for action in ("revoke", "remove"):
        assert not re.search(rf'<form method="post" action="[^"]*/{action}/"', page)
