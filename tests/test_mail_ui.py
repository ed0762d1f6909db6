"""Emails people trust and a server that says where mail goes."""

from __future__ import annotations

import pytest

from onboarding import mail
from tests.factories import login, make_member, make_org, make_user, sent_mail


@pytest.fixture
def org(app):  # type: ignore[no-untyped-def]
    return make_org("Acme Rockets", slug="acme")


def _invite(client, org):  # type: ignore[no-untyped-def]
    user = make_user("boss@example.com", name="Bea Boss")
    make_member(org, user, "owner")
    login(client, user.email)
    assert (
        client.post(
            "/organizations/acme/members/", data={"emails": "pat@example.com", "role": "manager"}
        ).status_code
        == 303
    )
    return sent_mail(client.application)[-1]


def test_the_invite_email_is_a_real_page_with_a_matching_text_part(client, org) -> None:
    message = _invite(client, org)
    html = message.get_body(("html",)).get_content()
    text = message.get_body(("plain",)).get_content()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html
    assert "You are invited to join Acme Rockets</h1>" in html
    assert "<strong>Bea Boss</strong> (boss@example.com) invited you" in html
    assert "with the role <strong>Manager</strong>" in html and "with the role Manager" in text
    assert (
        "Onboarding is where Acme Rockets signs in" in html
        and "Onboarding is where Acme Rockets signs in" in text
    )
    link = next(line for line in text.splitlines() if "/accept/" in line).strip()
    assert html.count(f'href="{link}"') == 2  # the button and the plain link, which wraps (break-all)
    assert "word-break: break-all" in html
    assert " UTC" in text and "expires on" in text


def test_the_sender_has_a_display_name(client, org) -> None:
    assert str(_invite(client, org)["From"]) == "Onboarding <onboarding@localhost>"
    client.application.config["MAIL_FROM"] = "Acme Team <team@example.com>"
    assert str(_invite_again(client)["From"]) == "Acme Team <team@example.com>"


def _invite_again(client):  # type: ignore[no-untyped-def]
    client.post("/organizations/acme/members/", data={"emails": "sam@example.com", "role": "member"})
    return sent_mail(client.application)[-1]


def test_where_mail_goes_is_said_on_the_members_page_and_the_status_page(client, org, app) -> None:
    _invite(client, org)
    where = mail.where_mail_goes()
    assert (
        where is not None
        and where.startswith("written to ")
        and where.endswith("(no mail server configured)")
    )
    page = client.get("/organizations/acme/members/").get_data(as_text=True)
    assert f"Email {where}" in page and "Email sent" not in page
    app.config["MAIL_URL"] = "console://"
    assert mail.where_mail_goes() == "printed on the server's console (no mail server configured)"
    app.config["MAIL_URL"] = "smtp://mail.example.com:587"
    assert mail.where_mail_goes() is None
    assert "Email sent" in client.get("/organizations/acme/members/").get_data(as_text=True)
    app.config["MAIL_URL"] = "console://"
    root = make_user("root@example.com", superuser=True)
    login(client, root.email)
    status = client.get("/manage/status/").get_data(as_text=True)
    assert "printed on the server&#39;s console (no mail server configured)" in status
