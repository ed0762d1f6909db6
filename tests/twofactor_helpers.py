"""Helpers for the two-factor and SSO tests: enroll a user, make codes, read sent mail."""

from __future__ import annotations

import email
import time
from email.message import Message
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyotp
import pytest

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.twofactor import service as tf

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


def enroll(user: User, secret: str = SECRET) -> list[str]:
    """Enroll ``user`` with ``secret``, confirmed with the current code (so sign-in needs a later one:
    ``code(steps=1)``, which the ±1 step drift window accepts)."""
    codes = tf.confirm_enrollment(user, secret, pyotp.TOTP(secret).now())
    db.session.commit()
    return codes


def code(secret: str = SECRET, steps: int = 0) -> str:
    return pyotp.TOTP(secret).at(time.time() + steps * 30)


def mails_to(app: Any, address: str) -> list[Message]:
    folder = Path(unquote(urlsplit(app.config["MAIL_URL"]).path))
    found = []
    for path in sorted(folder.glob("*.eml")) if folder.exists() else []:
        msg = email.message_from_bytes(path.read_bytes())
        if address in (msg["To"] or ""):
            found.append(msg)
    return found


def text_of(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    return ""


@pytest.fixture(autouse=True)
def empty_mailbox(app: Any) -> None:
    """The test run shares one mail folder; each test of these modules starts with it empty."""
    folder = Path(unquote(urlsplit(app.config["MAIL_URL"]).path))
    for path in folder.glob("*.eml") if folder.exists() else []:
        path.unlink()
