"""Helpers for the account self-service tests: a per-test mailbox and link extraction."""

from __future__ import annotations

import email
import re
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any

import pytest


class Mailbox:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def messages(self) -> list[EmailMessage]:
        if not self.folder.exists():
            return []
        out = []
        for path in sorted(self.folder.glob("*.eml")):
            out.append(email.message_from_bytes(path.read_bytes(), policy=default))
        return out  # type: ignore[return-value]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages() if m["To"] == address]

    @staticmethod
    def text(msg: EmailMessage) -> str:
        body = msg.get_body(("plain",))
        assert body is not None
        return str(body.get_content())

    def link(self, address: str, path_part: str) -> str:
        """The path of the last link containing ``path_part`` in mail to ``address``."""
        for msg in reversed(self.to(address)):
            match = re.search(
                r"http://onboarding\.test(\S*" + re.escape(path_part) + r"\S*/)", self.text(msg)
            )
            if match:
                return match.group(1)
        raise AssertionError(f"no {path_part} link in mail to {address}")


@pytest.fixture(autouse=True, name="mailbox")
def mailbox_fixture(settings: dict[str, Any], tmp_path: Path) -> Mailbox:
    folder = tmp_path / "mail"
    settings["MAIL_URL"] = f"file://{folder}"
    return Mailbox(folder)
