"""The owners' pages: add (the secret shown once), list, test, the delivery log, redeliver, delete; 403
for everyone else."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from onboarding.extensions import db
from onboarding.webhooks.models import WebhookDelivery, WebhookEndpoint
from tests.factories import login, make_member, make_user
from tests.webhook_helpers import Answer, Receiver, add_endpoint, assert_signed, owner_and_org


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}  # the receiver listens on loopback


BASE = "/organizations/acme/settings/webhooks/"


def test_owner_adds_an_endpoint_and_sees_the_secret_once(app, client):
    org, owner = owner_and_org()
    login(client, owner.email)
    assert client.get(BASE).status_code == 200
    resp = client.post(
        BASE, data={"url": "http://127.0.0.1:9/hooks", "events": ["member.joined", "invite.created"]}
    )
    assert resp.status_code == 201
    assert resp.headers["Cache-Control"] == "no-store"
    html = resp.get_data(as_text=True)
    secret = html.split('id="webhook-secret" readonly value="')[1].split('"')[0]
    assert secret.startswith("whsec_") and len(secret) > 40
    endpoint = db.session.scalar(select(WebhookEndpoint))
    assert endpoint.events == ["member.joined", "invite.created"]
    assert endpoint.secret.startswith("sealed:") and secret.removeprefix("whsec_") not in endpoint.secret
    page = client.get(BASE).get_data(as_text=True)
    assert "http://127.0.0.1:9/hooks" in page and secret not in page and "webhook-secret" not in page


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"url": "", "events": ["member.joined"]}, "webhook-url", "Enter the URL"),
        ({"url": "ftp://example.com/", "events": ["member.joined"]}, "webhook-url", "Only http://"),
        ({"url": "http://127.0.0.1/", "events": []}, "webhook-events", "Choose at least one event."),
        ({"url": "http://127.0.0.1/", "events": ["user.deleted"]}, "webhook-events", ""),
    ],
)
def test_bad_input_is_422_beside_the_field(app, client, data, field, message):
    _org, owner = owner_and_org()
    login(client, owner.email)
    resp = client.post(BASE, data=data)
    assert resp.status_code == 422
    html = resp.get_data(as_text=True)
    error = html.split(f'id="{field}-error"')[1].split("</small>")[0]
    assert message in error and error.strip(' class="field-error" aria-live="polite">')
    assert db.session.scalar(select(WebhookEndpoint.id)) is None


@pytest.mark.parametrize("role", ["manager", "admin", "member"])
def test_others_get_403(app, client, role):
    org, owner = owner_and_org()
    endpoint, _ = add_endpoint(org, owner, "http://127.0.0.1:9/hooks")
    make_member(org, make_user("x@example.com"), role=role)
    login(client, "x@example.com")
    assert client.get(BASE).status_code == 403
    assert (
        client.post(BASE, data={"url": "http://127.0.0.1:9/", "events": ["member.joined"]}).status_code == 403
    )
    assert client.get(f"{BASE}{endpoint.id}/").status_code == 403
    assert client.post(f"{BASE}{endpoint.id}/delete/").status_code == 403
    assert client.post(f"{BASE}{endpoint.id}/test/").status_code == 403
    assert db.session.get(WebhookEndpoint, endpoint.id) is not None


def test_another_organizations_endpoint_is_404(app, client):
    org, owner = owner_and_org()
    other, other_owner = owner_and_org("other")
    theirs, _ = add_endpoint(other, other_owner, "http://127.0.0.1:9/hooks")
    login(client, owner.email)
    assert client.get(f"{BASE}{theirs.id}/").status_code == 404
    assert client.post(f"{BASE}{theirs.id}/delete/").status_code == 404


def test_test_event_and_the_delivery_log(app, client):
    org, owner = owner_and_org()
    with Receiver(Answer(500, b"upstream exploded"), Answer(202, b"thanks")) as receiver:
        endpoint, secret = add_endpoint(org, owner, receiver.url)
        login(client, owner.email)
        resp = client.post(f"{BASE}{endpoint.id}/test/")
        assert resp.status_code == 303 and resp.headers["Location"].endswith(f"{BASE}{endpoint.id}/")
        page = client.get(f"{BASE}{endpoint.id}/").get_data(as_text=True)
        assert "webhook-test-form" in page and "webhook.test" in page
        row = page.split('id="delivery-log"')[1]
        assert '<td class="attempts">1</td>' in row and "<strong>500</strong>" in row
        assert "upstream exploded" in row and "retrying" in row
        delivery = db.session.scalar(select(WebhookDelivery))
        resp = client.post(f"{BASE}{endpoint.id}/deliveries/{delivery.id}/redeliver/")
        assert resp.status_code == 303
        page = client.get(f"{BASE}{endpoint.id}/").get_data(as_text=True)
        row = page.split('id="delivery-log"')[1]
        assert '<td class="attempts">2</td>' in row and "<strong>202</strong>" in row and "thanks" in row
    assert [json.loads(r.body)["type"] for r in receiver.received] == ["webhook.test", "webhook.test"]
    assert len(set(receiver.ids())) == 1
    for got in receiver.received:
        assert_signed(secret, got)


def test_delete_removes_the_endpoint_and_its_log(app, client):
    org, owner = owner_and_org()
    with Receiver() as receiver:
        endpoint, _ = add_endpoint(org, owner, receiver.url)
        login(client, owner.email)
        client.post(f"{BASE}{endpoint.id}/test/")
    resp = client.post(f"{BASE}{endpoint.id}/delete/")
    assert resp.status_code == 303 and resp.headers["Location"].endswith(BASE)
    assert db.session.scalar(select(WebhookEndpoint.id)) is None
    assert db.session.scalar(select(WebhookDelivery.id)) is None
    assert client.get(f"{BASE}{endpoint.id}/").status_code == 404
