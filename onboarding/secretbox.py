"""Secrets the app must read back (an SSO client secret) kept encrypted at rest.

A key per purpose is derived from ``ONBOARDING_SECRET_KEY``: a database dump alone does not reveal
them. Every process (web, workers, CLI) must share the secret key, as it must for sessions already.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app

PREFIX = "sealed:"


def _fernet(purpose: str) -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(purpose.encode() + b"\0" + raw).digest()))


def seal(text: str, purpose: str) -> str:
    return PREFIX + _fernet(purpose).encrypt(text.encode()).decode("ascii")


def unseal(value: str, purpose: str) -> str:
    """The plain text of a sealed value (a value stored before sealing passes through)."""
    if not value.startswith(PREFIX):
        return value
    try:
        return _fernet(purpose).decrypt(value[len(PREFIX) :].encode("ascii")).decode()
    except InvalidToken:
        raise ValueError(
            "cannot open a stored secret: ONBOARDING_SECRET_KEY differs from when it was saved"
        ) from None
