"""A real HTTP receiver on loopback for webhook tests, and an independent signature check.

The check is written from the Standard Webhooks specification with the standard library only, so it
does not share code with the app's signing (which uses the ``standardwebhooks`` package).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.webhooks import service as webhooks
from tests.factories import make_member, make_org, make_user


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    hold: threading.Event | None = None  # wait for this before answering (a slow or hung endpoint)


class Receiver:
    """``with Receiver() as r:`` serves on 127.0.0.1; ``r.answers`` are used in order, then 200s."""

    def __init__(self, *answers: Answer) -> None:
        self.answers = list(answers)
        self.received: list[Received] = []
        self.arrived = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                outer.received.append(
                    Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                outer.arrived.set()
                answer = outer.answers.pop(0) if outer.answers else Answer()
                if answer.hold is not None:
                    answer.hold.wait(60)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except OSError:
                    pass  # the caller gave up (timeout, killed)

            do_GET = do_POST  # a followed redirect would show up as a GET

            def log_message(self, *_args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [r.headers["webhook-id"] for r in self.received]


def expected_signature(secret: str, webhook_id: str, timestamp: str, body: bytes) -> str:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = webhook_id.encode() + b"." + timestamp.encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def assert_signed(secret: str, received: Received) -> None:
    h = received.headers
    assert h["webhook-signature"] == expected_signature(
        secret, h["webhook-id"], h["webhook-timestamp"], received.body
    )


def owner_and_org(slug: str = "acme") -> tuple[Any, Any]:
    org = make_org("Acme", slug=slug)
    owner = make_user(f"owner@{slug}.example")
    make_member(org, owner, role="owner")
    return org, owner


def add_endpoint(org: Any, owner: Any, url: str, events: list[str] | None = None) -> tuple[Any, str]:
    with write_intent(True):
        endpoint, secret = webhooks.create_endpoint(
            org, url, events or ["member.removed", "member.role-changed"], owner, ip=None
        )
        db.session.commit()
    return endpoint, secret
