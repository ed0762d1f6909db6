"""Clean-up: invites whose link expired long ago go, each removal audited (Sentry's ``delete_expired``)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, select

from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.invites.common import member_audit_data
from onboarding.orgs.models import InviteStatus, OrganizationMember


def delete_expired(older_than: timedelta, *, batch: int = 500) -> int:
    """Remove invites whose link expired more than ``older_than`` ago (Sentry's ``delete_expired``).

    Until then an expired invite stays listed, and a resend revives it. Each removal is audited
    (actor: the system); at most ``batch`` per call, so a long backlog is taken in small transactions.
    Returns how many were removed; the caller commits.
    """
    threshold = utcnow() - older_than
    rows = db.session.scalars(
        select(OrganizationMember)
        .where(
            OrganizationMember.user_id.is_(None),
            OrganizationMember.email.is_not(None),
            OrganizationMember.invite_status == InviteStatus.APPROVED,
            OrganizationMember.token_expires_at < threshold,
        )
        .order_by(OrganizationMember.id)
        .limit(batch)
    ).all()
    removed = 0
    for member in rows:
        expired = member.token_expires_at
        data = {**member_audit_data(member), "expired": expired.isoformat() + "Z" if expired else None}
        # Conditional: an invite resent (or accepted) since the select above is no longer expired and stays.
        gone = db.session.execute(
            delete(OrganizationMember).where(
                OrganizationMember.id == member.id,
                OrganizationMember.user_id.is_(None),
                OrganizationMember.token_expires_at < threshold,
            )
        )
        if gone.rowcount != 1:  # type: ignore[attr-defined]
            continue
        removed += 1
        audit.record(
            "member.remove-expired-invite",
            organization_id=member.organization_id,
            actor_label="system",
            target_object=member.id,
            data=data,
        )
    return removed
