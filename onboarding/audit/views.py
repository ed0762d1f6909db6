"""``/manage/audit-log/``: the instance's audit log (superusers), newest first, 50 a page."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from onboarding.audit import bp
from onboarding.audit.models import AuditLogEntry
from onboarding.extensions import db
from onboarding.ops import superuser_required

PER_PAGE = 50


@bp.get("/")
@superuser_required
def instance_log() -> str:
    page = min(max(1, request.args.get("page", 1, type=int) or 1), 10_000)
    entries = list(
        db.session.scalars(
            select(AuditLogEntry)
            .where(AuditLogEntry.organization_id.is_(None))
            .order_by(AuditLogEntry.datetime.desc(), AuditLogEntry.id.desc())
            .offset((page - 1) * PER_PAGE)
            .limit(PER_PAGE + 1)
        )
    )
    return render_template(
        "audit/log.html", org=None, entries=entries[:PER_PAGE], page=page, has_more=len(entries) > PER_PAGE
    )
