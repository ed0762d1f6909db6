"""The SSRF guard: only http(s) to public addresses, checked when an endpoint is added and again at every
delivery (DNS rebinding), connecting to the address that was checked."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.members import service as members
from onboarding.webhooks import guard
from onboarding.webhooks import service as webhooks
from onboarding.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import login, make_member, make_user
from tests.webhook_helpers import Receiver, owner_and_org

REFUSED = [
    "http://127.0.0.1/hooks",
    "http://localhost:8080/hooks",
    "http://10.1.2.3/",
    "http://172.16.0.1/",
    "http://192.168.1.10/",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.0.1/",
    "http://0.0.0.0/",
    "http://[::1]/",
    "http://[fe80::1]/",
    "http://[fd00:ec2::254]/",
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:169.254.169.254]/",
    "http://224.0.0.1/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_addresses_are_refused_at_creation(app, url):
    org, owner = owner_and_org()
    with pytest.raises(webhooks.WebhookError) as refused:
        webhooks.create_endpoint(org, url, ["member.joined"], owner, ip=None)
    assert refused.value.field == "url"
    assert "public addresses" in refused.value.message


@pytest.mark.parametrize(
    "url",
    ["ftp://example.com/", "file:///etc/passwd", "gopher://example.com/", "example.com/hooks", "http://"],
)
def test_only_http_urls(app, url):
    with pytest.raises(guard.UnsafeURL):
        guard.check(url, allow_private=True)


@pytest.mark.parametrize(
    "url", ["http://exa\x00mple.com/", "http://" + "a" * 70 + ".example.com/", "http://\u2603.invalid./"]
)
def test_odd_hosts_are_refused_plainly(url):
    with pytest.raises(guard.UnsafeURL, match="could not be found"):
        guard.check(url, allow_private=True)


def test_credentials_in_the_url_are_refused():
    with pytest.raises(guard.UnsafeURL, match="credentials"):
        guard.check("https://user:pw@example.com/", allow_private=True)


def test_public_names_pass_and_keep_their_host(monkeypatch):
    monkeypatch.setattr(guard, "resolve", lambda host, port: ["93.184.216.34"])
    target = guard.check("https://hooks.example.com/in?x=1", allow_private=False)
    assert (target.host, target.address, target.port, target.path) == (
        "hooks.example.com", "93.184.216.34", 443, "/in?x=1"
    )  # fmt: skip


def test_a_name_with_any_private_address_is_refused(monkeypatch):
    monkeypatch.setattr(guard, "resolve", lambda host, port: ["93.184.216.34", "10.0.0.7"])
    with pytest.raises(guard.UnsafeURL, match="10.0.0.7"):
        guard.check("https://hooks.example.com/", allow_private=False)


def test_the_form_answers_422_beside_the_url(app, client):
    org, owner = owner_and_org()
    login(client, owner.email)
    resp = client.post(
        "/organizations/acme/settings/webhooks/",
        data={"url": "http://169.254.169.254/latest/", "events": ["member.joined"]},
    )
    assert resp.status_code == 422
    assert "public addresses" in resp.get_data(as_text=True)
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


def test_dns_rebinding_is_refused_at_delivery(app, monkeypatch):
    """The name resolved to a public address when added; at delivery it points at loopback, where a
    receiver listens. The delivery is refused and nothing reaches the receiver."""
    org, owner = owner_and_org()
    with Receiver() as receiver:
        answers = {"addr": "93.184.216.34"}
        monkeypatch.setattr(guard, "resolve", lambda host, port: [answers["addr"]])
        with write_intent(True):
            webhooks.create_endpoint(
                org,
                f"http://hooks.example.com:{receiver.port}/hooks",
                ["member.role-changed"],
                owner,
                ip=None,
            )
            db.session.commit()
        answers["addr"] = "127.0.0.1"  # the attacker's DNS now answers loopback
        member = make_member(org, make_user("ada@example.com"))
        with write_intent(True):
            members.edit_member(org, member, owner, "owner", role="admin")
            db.session.commit()
    assert receiver.received == []
    row = db.session.scalar(select(WebhookDelivery))
    assert row.status == "pending" and row.attempts == 1
    assert "127.0.0.1" in row.last_error and "public addresses" in row.last_error


@pytest.mark.parametrize("settings", [{"WEBHOOK_ALLOW_PRIVATE": True}])
def test_the_delivery_connects_to_the_vetted_address_with_the_url_host(app, settings, monkeypatch):
    org, owner = owner_and_org()
    monkeypatch.setattr(guard, "resolve", lambda host, port: ["127.0.0.1"])
    with Receiver() as receiver:
        with write_intent(True):
            webhooks.create_endpoint(
                org,
                f"http://hooks.example.com:{receiver.port}/in?k=1",
                ["member.role-changed"],
                owner,
                ip=None,
            )
            db.session.commit()
        member = make_member(org, make_user("ada@example.com"))
        with write_intent(True):
            members.edit_member(org, member, owner, "owner", role="admin")
            db.session.commit()
    [got] = receiver.received
    assert got.headers["host"] == f"hooks.example.com:{receiver.port}"
    assert got.path == "/in?k=1"
    assert json.loads(got.body)["type"] == "member.role-changed"
