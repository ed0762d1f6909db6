"""``/manage/errors/`` (captured errors grouped into issues) and ``/manage/status/`` (queues and jobs)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, request, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from onboarding.extensions import db, utcnow
from onboarding.mail import where_mail_goes
from onboarding.ops import bp, superuser_required
from onboarding.ops import status as ops_status
from onboarding.ops.models import ErrorEvent, ErrorIssue
from onboarding.redisconn import REDIS_DOWN
from onboarding.web.converters import page_number
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import render, see_other

PAGE_SIZE = 50
JOBS_SHOWN = 20


def _page_arg() -> int:
    return page_number(request.args.get("page"))


@bp.get("/errors/")
@superuser_required
def errors() -> Response:
    page = _page_arg()
    total = db.session.scalar(select(func.count()).select_from(ErrorIssue)) or 0
    issues = db.session.scalars(
        select(ErrorIssue)
        .order_by(ErrorIssue.last_seen.desc(), ErrorIssue.id.desc())
        .limit(PAGE_SIZE)
        .offset((page - 1) * PAGE_SIZE)
    ).all()
    # The latest event of each issue shown, for its release and environment.
    latest_ids = select(func.max(ErrorEvent.id)).where(ErrorEvent.issue_id.in_([i.id for i in issues]))
    latest = {
        e.issue_id: e
        for e in db.session.scalars(
            select(ErrorEvent).where(ErrorEvent.id.in_(latest_ids.group_by(ErrorEvent.issue_id)))
        )
    }
    return render(
        "ops/errors.html",
        issues=issues,
        latest=latest,
        page=page,
        has_next=page * PAGE_SIZE < total,
        total=total,
    )


@bp.get("/errors/<int:issue_id>/")
@superuser_required
def error_detail(issue_id: int) -> Response:
    issue = db.session.get(ErrorIssue, issue_id)
    if issue is None:
        abort(404)
    recent = db.session.scalars(
        select(ErrorEvent)
        .where(ErrorEvent.issue_id == issue.id)
        .order_by(ErrorEvent.timestamp.desc(), ErrorEvent.id.desc())
        .limit(20)
    ).all()
    return render("ops/error_detail.html", issue=issue, events=recent, latest=recent[0] if recent else None)


@bp.get("/status/")
@superuser_required
def status() -> Response:
    """Queues, workers, failed and scheduled jobs, outbox, last counter flush; htmx re-polls the body."""
    ctx: dict[str, Any] = {"redis_error": None, "queues": [], "workers": [], "last_flush": None}
    try:
        ctx["queues"] = ops_status.queue_states(with_jobs=JOBS_SHOWN)
        ctx["workers"] = ops_status.workers()
        ctx["last_flush"] = ops_status.last_counter_flush()
    except REDIS_DOWN as exc:
        ctx["redis_error"] = f"Redis is unreachable ({type(exc).__name__}); queue figures are unavailable."
    try:
        ctx["outbox"] = ops_status.outbox_backlog()
        ctx["db_error"] = None
    except SQLAlchemyError as exc:
        db.session.rollback()
        ctx["outbox"], ctx["db_error"] = None, f"The database is unreachable ({type(exc).__name__})."
    return render(
        "ops/status.html",
        block="status_body",
        now=utcnow(),
        last_error=ops_status.last_error,
        mail_destination=where_mail_goes(),
        **ctx,
    )


def _failed_job_or_404(queue: str, job_id: str) -> tuple[Any, Any]:
    found = ops_status.failed_job(queue, job_id)
    if found is None:
        abort(404, "That failed job no longer exists.")
    return found


@bp.post("/status/jobs/<queue>/<job_id>/retry/")
@superuser_required
def retry_job(queue: str, job_id: str) -> Response:
    EmptyForm()  # CSRF is checked for every POST by CSRFProtect
    registry, job = _failed_job_or_404(queue, job_id)
    registry.requeue(job)
    flash(f"Job {job_id} was put back on the {queue} queue.", "success")
    return see_other(url_for("ops.status"))


@bp.post("/status/jobs/<queue>/<job_id>/delete/")
@superuser_required
def delete_job(queue: str, job_id: str) -> Response:
    EmptyForm()
    registry, job = _failed_job_or_404(queue, job_id)
    registry.remove(job, delete_job=True)
    flash(f"Job {job_id} was deleted.", "success")
    return see_other(url_for("ops.status"))
