"""HTTPS deliveries go to the vetted address yet check the certificate (and send SNI and Host) for the
URL's name: the guard's connect-to-this-address does not weaken TLS."""

from __future__ import annotations

import datetime
import ssl
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.members import service as members
from onboarding.webhooks import guard
from onboarding.webhooks import service as webhooks
from onboarding.webhooks.models import WebhookDelivery
from tests.factories import make_member, make_user
from tests.webhook_helpers import Receiver, owner_and_org


@pytest.fixture
def settings():
    return {"WEBHOOK_ALLOW_PRIVATE": True}  # the receiver listens on loopback


def _certificates(tmp: Path, name: str) -> tuple[Path, Path, Path]:
    """A throw-away CA (its file) and a server certificate for ``name`` with its key."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = tmp / "ca.pem", tmp / "server.pem", tmp / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


class TLSReceiver(Receiver):
    def __init__(self, cert: Path, key: Path) -> None:
        super().__init__()
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.sni: list[str | None] = []

        def remember(sock: ssl.SSLSocket, server_name: str | None, _ctx: ssl.SSLContext) -> None:
            del sock
            self.sni.append(server_name)

        context.sni_callback = remember
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)


def _deliver(org, owner, port: int) -> WebhookDelivery:
    with write_intent(True):
        webhooks.create_endpoint(
            org, f"https://hooks.example.com:{port}/in", ["member.role-changed"], owner, ip=None
        )
        db.session.commit()
    member = make_member(org, make_user("ada@example.com"))
    with write_intent(True):
        members.edit_member(org, member, owner, "owner", role="admin")
        db.session.commit()
    return db.session.scalar(select(WebhookDelivery))


@pytest.mark.parametrize(
    ("cert_name", "delivered"), [("hooks.example.com", True), ("evil.example.net", False)]
)
def test_https_checks_the_certificate_for_the_urls_name(app, monkeypatch, tmp_path, cert_name, delivered):
    ca, cert, key = _certificates(tmp_path, cert_name)
    monkeypatch.setenv("SSL_CERT_FILE", str(ca))  # trust the throw-away CA (and nothing else) here
    monkeypatch.setattr(guard, "resolve", lambda host, port: ["127.0.0.1"])
    org, owner = owner_and_org()
    with TLSReceiver(cert, key) as receiver:
        row = _deliver(org, owner, receiver.port)
    if delivered:
        assert (row.status, row.response_status) == ("delivered", 200)
        assert receiver.sni == ["hooks.example.com"]
        assert receiver.received[0].headers["host"] == f"hooks.example.com:{receiver.port}"
    else:
        assert row.status == "pending" and row.response_status is None
        assert "certificate was refused" in row.last_error and "doesn't match" in row.last_error
        assert receiver.received == []
