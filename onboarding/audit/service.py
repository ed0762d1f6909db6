"""Writing audit entries. The caller's transaction commits them together with the change."""

from __future__ import annotations

from typing import Any

from onboarding.accounts.models import User
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db

# Keys never written into audit data, whatever a caller passes.
_SECRET_KEYS = {"password", "token", "token_hash", "secret", "client_secret", "otp"}


def record(
    event: str,
    *,
    organization_id: int | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
    target_object: int | None = None,
    target_user_id: int | None = None,
    ip_address: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLogEntry:
    """Add an audit entry to the session (not committed). Secret-looking keys are dropped."""
    clean = {k: v for k, v in (data or {}).items() if k.lower() not in _SECRET_KEYS}
    entry = AuditLogEntry(
        event=event,
        organization_id=organization_id,
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.email if actor is not None else None),
        target_object=target_object,
        target_user_id=target_user_id,
        ip_address=ip_address,
        data=clean,
    )
    db.session.add(entry)
    return entry
