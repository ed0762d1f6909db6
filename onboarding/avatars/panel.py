"""What the avatar panel template needs (shared by the avatar pages and the settings page)."""

from __future__ import annotations

from typing import Any

from onboarding.avatars import service as avatars


def panel(
    kind: str, owner_id: int, name: str, identifier: str, email: str = "", **extra: Any
) -> dict[str, Any]:
    """Everything the avatar panel template needs."""
    return {
        "kind": kind,
        "display": avatars.display(kind, owner_id, name, identifier, size=120, email=email),
        "avatar_type": avatars.avatar_type_name(kind, owner_id),
        "types": avatars.type_names(kind),
        **extra,
    }
