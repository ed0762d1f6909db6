"""Invite tokens: 256 random bits in the link, only their SHA-256 in the database."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,128}")


def new_token() -> tuple[str, str]:
    """A fresh (raw token, stored hash) pair."""
    raw = secrets.token_urlsafe(32)
    return raw, hash_token(raw)


def hash_token(raw: str) -> str:
    return hashlib.sha256(raw.encode("ascii")).hexdigest()


def well_formed(raw: str) -> bool:
    """Cheap shape check first: malformed, huge, non-ASCII or NUL-containing tokens never reach the database."""
    return isinstance(raw, str) and _SHAPE.fullmatch(raw) is not None


def matches(raw: str, stored_hash: str | None) -> bool:
    return bool(stored_hash) and well_formed(raw) and hmac.compare_digest(hash_token(raw), stored_hash or "")


def mask_path(path: str) -> str:
    """``/accept/12/<token>/`` → ``/accept/12/…/`` for logs and error reports."""
    return re.sub(r"(/accept/[^/]+/)[^/]+", r"\1…", path)
