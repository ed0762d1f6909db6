"""Trusted relays: named Ed25519 public keys kept as an organization option (spec §1.11).

Stored form per relay: ``{"public_key", "name", "description", "created", "last_modified"}``;
shown as ``{"name", "publicKey", "description"?, "created"?, "lastModified"?}``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from datetime import UTC, datetime
from typing import Any

from onboarding.orgs import options

OPTION_KEY = "sentry:trusted-relays"
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")
_P = 2**255 - 19
_D = (-121665 * pow(121666, _P - 2, _P)) % _P


class RelayError(ValueError):
    pass


def is_valid_public_key(text: str) -> bool:
    """43 characters of URL-safe base64 (no padding) holding a point on the Ed25519 curve.

    Mirrors Relay's ``PublicKey.parse``: canonical base64, 32 bytes, and the compressed point must
    decompress (``x² = (y² − 1) / (d·y² + 1)`` must have a square root modulo 2²⁵⁵ − 19).
    """
    if not isinstance(text, str) or not _KEY_RE.match(text):
        return False
    try:
        raw = base64.urlsafe_b64decode(text + "=")
    except (binascii.Error, ValueError):
        return False
    if len(raw) != 32 or base64.urlsafe_b64encode(raw).decode().rstrip("=") != text:
        return False  # trailing bits set: not the canonical encoding of any 32 bytes
    y = (int.from_bytes(raw, "little") & ((1 << 255) - 1)) % _P
    u = (y * y - 1) % _P
    v = (_D * y * y + 1) % _P
    x2 = u * pow(v, _P - 2, _P) % _P
    return x2 == 0 or pow(x2, (_P - 1) // 2, _P) == 1


def parse_item(item: Any) -> dict[str, Any]:
    """One incoming relay → stored form without timestamps. Raises :class:`RelayError`."""
    if not isinstance(item, dict):
        raise RelayError("Bad structure received for Trusted Relays")
    name = item.get("name")
    if name is None:
        raise RelayError("Relay key info with missing name in Trusted Relays")
    name = str(name).strip()
    if not name:
        raise RelayError("Relay key info with empty name in Trusted Relays")
    key = item.get("publicKey")
    if key is None or key == "":
        raise RelayError(f"Missing public key for relay key info with name:'{name}' in Trusted Relays")
    if not is_valid_public_key(key):
        raise RelayError(f"Invalid public key for relay key info with name:'{name}' in Trusted Relays")
    description = item.get("description")
    description = str(description).strip() if description is not None else None
    return {"public_key": key, "name": name, "description": description or None}


def parse_list(value: Any) -> list[dict[str, Any]]:
    """The whole incoming list; client-sent ``created``/``lastModified`` are ignored."""
    if not isinstance(value, list):
        raise RelayError(f'Expected a list of items but got type "{type(value).__name__}".')
    relays = [parse_item(item) for item in value]
    seen: set[str] = set()
    for relay in relays:
        if relay["public_key"] in seen:
            raise RelayError(f"Duplicated key in Trusted Relays: '{relay['public_key']}'")
        seen.add(relay["public_key"])
    return relays


def external(relay: dict[str, Any]) -> dict[str, Any]:
    out = {
        "name": relay.get("name"),
        "publicKey": relay.get("public_key"),
        "description": relay.get("description"),
        "created": relay.get("created"),
        "lastModified": relay.get("last_modified"),
    }
    return {k: v for k, v in out.items() if v is not None}


def get_relays(organization_id: int) -> list[dict[str, Any]]:
    return list(options.get_value(organization_id, OPTION_KEY, []) or [])


def save(organization_id: int, incoming: list[dict[str, Any]], changed_data: dict[str, str]) -> bool:
    """Store ``incoming`` (parsed) keeping each key's ``created``; returns whether anything changed.

    ``last_modified`` is set for new keys and keys whose name or description changed; a different
    count (a removal) also counts as a change. Nothing is stored or logged when nothing changed.
    """
    now = datetime.now(UTC).isoformat()
    row = options.get_row(organization_id, OPTION_KEY)
    stored = list(row.value or []) if row is not None else []
    existing = {relay["public_key"]: relay for relay in stored}
    modified = len(incoming) != len(existing)
    result = []
    for relay in incoming:
        before = existing.get(relay["public_key"])
        entry = {
            **relay,
            "created": before.get("created") if before else now,
            "last_modified": before.get("last_modified") if before else None,
        }
        if (
            before is None
            or before.get("name") != relay["name"]
            or before.get("description") != relay.get("description")
        ):
            entry["last_modified"] = now
            modified = True
        result.append(entry)
    if not modified:
        return False
    new_text = json.dumps([external(r) for r in result])
    if row is not None:
        changed_data["trustedRelays"] = f"from {json.dumps([external(r) for r in stored])} to {new_text}"
    else:
        changed_data["trustedRelays"] = f"to {new_text}"
    options.set_value(organization_id, OPTION_KEY, result)
    return True
