"""Email: file and SMTP transports, sending only after commit, no header injection, escaped HTML."""

from __future__ import annotations

import email
import email.policy
import threading
from pathlib import Path
from typing import Any

import pytest
from jinja2 import ChoiceLoader, DictLoader

from onboarding import mail
from onboarding.extensions import db
from onboarding.outbox import mail as outbox_mail
from tests.conftest import free_port

TEMPLATES = {
    "emails/hello.subject.txt": "Welcome to {{ org_name }}, {{ name }}",
    "emails/hello.txt": "Hello {{ name }},\n\nYou joined {{ org_name }}.\n",
    "emails/hello.html": "<p>Hello {{ name }},</p><p>You joined <strong>{{ org_name }}</strong>.</p>",
}


@pytest.fixture
def mail_app(app: Any, tmp_path: Path) -> Any:
    app.jinja_env.loader = ChoiceLoader([DictLoader(TEMPLATES), app.jinja_env.loader])
    app.config["MAIL_URL"] = f"file://{tmp_path / 'mail'}"
    return app


def _messages(folder: Path) -> list[email.message.EmailMessage]:
    files = sorted(folder.glob("*.eml")) if folder.exists() else []
    return [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]  # type: ignore[misc]


def test_file_transport_writes_one_eml_after_commit(mail_app: Any, tmp_path: Path) -> None:
    with mail_app.test_request_context():
        outbox_mail.queue_email("ada@example.com", "hello", name="Ada", org_name="Acme")
        assert _messages(tmp_path / "mail") == []  # nothing before the commit
        db.session.commit()
    messages = _messages(tmp_path / "mail")
    assert len(messages) == 1
    assert not list((tmp_path / "mail").glob("*.tmp"))
    msg = messages[0]
    assert msg["To"] == "ada@example.com"
    assert msg["Subject"] == "Welcome to Acme, Ada"
    assert "onboarding@localhost" in msg["From"]
    assert msg["Message-ID"]
    assert "You joined Acme." in msg.get_body(("plain",)).get_content()
    assert "<strong>Acme</strong>" in msg.get_body(("html",)).get_content()


def test_nothing_sent_when_the_transaction_rolls_back(mail_app: Any, tmp_path: Path) -> None:
    with mail_app.test_request_context():
        outbox_mail.queue_email("ada@example.com", "hello", name="Ada", org_name="Acme")
        db.session.rollback()
        db.session.commit()
    assert _messages(tmp_path / "mail") == []


@pytest.mark.parametrize(
    "evil",
    [
        "Eve\r\nBcc: victim@example.com",
        "Eve\nBcc: victim@example.com",
        "Eve\rBcc: victim@example.com",
        "Eve\r\n\r\n<p>a body of my own</p>",
    ],
)
def test_names_cannot_inject_headers(mail_app: Any, tmp_path: Path, evil: str) -> None:
    with mail_app.test_request_context():
        mail.send_now("ada@example.com", "hello", name=evil, org_name=evil)
    messages = _messages(tmp_path / "mail")
    assert len(messages) == 1
    for msg in messages:
        assert msg["Bcc"] is None
        assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
        assert "\n" not in msg["To"] and "\r" not in msg["To"]
        assert [part.get_content_type() for part in msg.iter_parts()] == ["text/plain", "text/html"]
    assert messages[0]["Subject"].startswith("Welcome to Eve ")


@pytest.mark.parametrize(
    "to",
    [
        "ada@example.com\r\nBcc: victim@example.com",
        "ada@example.com\nvictim@example.com",
        "ada@example.com, victim@example.com",
        "ada@example.com; victim@example.com",
        "Ada <ada@example.com>, victim@example.com",
        "not an address",
        "",
    ],
)
def test_recipient_must_be_one_address(mail_app: Any, tmp_path: Path, to: str) -> None:
    """SMTP takes recipients from the To header: a second address must never get in."""
    with mail_app.test_request_context():
        with pytest.raises(ValueError):
            outbox_mail.queue_email(to, "hello", name="Ada", org_name="Acme")
        with pytest.raises(ValueError):
            mail.send_now(to, "hello", name="Ada", org_name="Acme")
        db.session.commit()
    assert _messages(tmp_path / "mail") == []


def test_html_part_escapes_names(mail_app: Any, tmp_path: Path) -> None:
    name = '<script>alert("x")</script> & <b>Co</b>'
    with mail_app.test_request_context():
        mail.send_now("ada@example.com", "hello", name=name, org_name="O'Reilly <Org>")
    msg = _messages(tmp_path / "mail")[0]
    html = msg.get_body(("html",)).get_content()
    assert "<script>" not in html and "<b>Co</b>" not in html
    assert "&lt;script&gt;" in html
    assert "O&#39;Reilly &lt;Org&gt;" in html
    assert name in msg.get_body(("plain",)).get_content()  # plain text stays as written


class _Collector:
    def __init__(self) -> None:
        self.envelopes: list[Any] = []
        self.received = threading.Event()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd API
        self.envelopes.append(envelope)
        self.received.set()
        return "250 Message accepted for delivery"


def test_real_smtp_server_receives_the_message(mail_app: Any) -> None:
    from aiosmtpd.controller import Controller

    handler = _Collector()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        mail_app.config["MAIL_URL"] = f"smtp://127.0.0.1:{port}"
        with mail_app.test_request_context():
            outbox_mail.queue_email("ada@example.com", "hello", name="Ada <admin>", org_name="Acme")
            db.session.commit()
        assert handler.received.wait(10)
    finally:
        controller.stop()
    assert len(handler.envelopes) == 1
    envelope = handler.envelopes[0]
    assert envelope.rcpt_tos == ["ada@example.com"]
    assert envelope.mail_from == "onboarding@localhost"
    msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert msg["Subject"] == "Welcome to Acme, Ada <admin>"
    assert "Ada &lt;admin&gt;" in msg.get_body(("html",)).get_content()


def test_unreachable_smtp_server_raises_for_retry(mail_app: Any) -> None:
    mail_app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"
    with mail_app.test_request_context(), pytest.raises(OSError):
        mail.send_now("ada@example.com", "hello", name="Ada", org_name="Acme")


def test_console_transport_prints_the_whole_message_links_included(
    mail_app: Any, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """console:// is for development: the link must be usable, so it is printed unmasked on standard
    output, while the log line names only the recipient and subject."""
    mail_app.config["MAIL_URL"] = "console://"
    link = "http://onboarding.test/accept/12/secret-token-value/"
    mail_app.jinja_env.loader = DictLoader(
        {"emails/t.subject.txt": "Join {{ n }}", "emails/t.txt": "Go to {{ link }}", "emails/t.html": "x"}
    )
    with mail_app.test_request_context(), caplog.at_level("INFO", logger="onboarding.mail"):
        mail.send_now("ada@example.com", "t", n="Acme", link=link)
    out = capsys.readouterr().out
    assert "email to ada@example.com: Join Acme" in out and link in out
    assert "Join Acme" in caplog.text and "secret-token-value" not in caplog.text
