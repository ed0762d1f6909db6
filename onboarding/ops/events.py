"""Captured events: scrub secrets, normalise, group by fingerprint, store, hand to post-processing.

Mirrors Sentry's ingest on a small scale: an event dict (as sentry-sdk builds it) is scrubbed, reduced
to the fields we keep, saved with its release and environment, counted into its issue, and a job on the
``events`` queue does the post-processing (one email to superusers about a new issue).

Saving uses its own database session, so an event is stored even when the request or job that raised
it rolls back; callers roll their own session back first (SQLite allows one writer at a time).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
from datetime import datetime
from typing import Any

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from onboarding.extensions import db, utcnow
from onboarding.ops.models import ErrorEnvironment, ErrorEvent, ErrorIssue, ErrorRelease
from onboarding.web.logmask import MASK, scrub_text

log = logging.getLogger(__name__)

# Keys whose values are secrets wherever they appear (headers, form data, cookies, extra, tags).
SECRET_KEY_RE = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|auth|cookie|csrf|session|otp|signature|dsn|credential",
    re.IGNORECASE,
)
MAX_FRAMES = 50


def scrub(value: Any, key: str = "") -> Any:
    """A copy of ``value`` with secret-named keys masked and tokens in strings masked."""
    if key and SECRET_KEY_RE.search(key) and value not in (None, "", [], {}):
        return MASK
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        # Header lists from some integrations are [name, value] pairs.
        if len(value) == 2 and isinstance(value[0], str) and SECRET_KEY_RE.search(value[0]):
            return [value[0], MASK]
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _exception(event: dict[str, Any]) -> dict[str, Any] | None:
    values = (event.get("exception") or {}).get("values") or []
    return values[-1] if values else None  # the last one is the exception that was raised


def _frames(exc: dict[str, Any] | None) -> list[dict[str, Any]]:
    raw = ((exc or {}).get("stacktrace") or {}).get("frames") or []
    frames = [
        {
            "filename": str(f.get("filename") or ""),
            "module": str(f.get("module") or ""),
            "function": str(f.get("function") or ""),
            "lineno": f.get("lineno"),
            "context_line": str(f.get("context_line") or "").strip(),
            "in_app": bool(f.get("in_app")),
        }
        for f in raw
    ]
    return frames[-MAX_FRAMES:]


def normalise(event: dict[str, Any]) -> dict[str, Any]:
    """The fields we keep from a (scrubbed) sentry-sdk event."""
    exc = _exception(event)
    message = event.get("message") or (event.get("logentry") or {}).get("message") or ""
    request = event.get("request") or {}
    url = str(request.get("url") or "")
    path = re.sub(r"^[a-z]+://[^/]+", "", url) if url else ""
    tags = {str(k): str(v)[:200] for k, v in (event.get("tags") or {}).items()}
    user = event.get("user") or {}
    try:
        user_id = int(user["id"]) if user.get("id") not in (None, "") else None
    except (TypeError, ValueError):
        user_id = None
    ts = event.get("timestamp")
    timestamp = utcnow()
    if isinstance(ts, str):
        with contextlib.suppress(ValueError):
            timestamp = datetime.fromisoformat(ts.replace("Z", "+00:00")).replace(tzinfo=None)
    job = (event.get("extra") or {}).get("rq-job") or {}
    return {
        "event_id": str(event.get("event_id") or "")[:32],
        "level": str(event.get("level") or "error")[:16],
        "message": str(message)[:10000],
        "exception_type": str((exc or {}).get("type") or "")[:200],
        "exception_value": str((exc or {}).get("value") or "")[:10000],
        "frames": _frames(exc),
        "request_method": str(request.get("method") or "")[:16],
        "request_path": path[:2000],
        "user_id": user_id,
        "job_id": str(tags.get("job_id") or job.get("job_id") or "")[:100],
        "tags": tags,
        "timestamp": timestamp,
        "release": str(event.get("release") or "")[:250],
        "environment": str(event.get("environment") or "")[:64],
        "fingerprint": event.get("fingerprint"),
    }


def fingerprint(data: dict[str, Any]) -> str:
    """Sentry's default grouping in small: exception type plus the in-app frames, else the message."""
    custom = data.get("fingerprint")
    if custom and custom != ["{{ default }}"]:
        parts = [str(p) for p in custom]
    elif data["exception_type"]:
        frames = [f for f in data["frames"] if f["in_app"]] or data["frames"]
        parts = [data["exception_type"]] + [f"{f['module'] or f['filename']}.{f['function']}" for f in frames]
    else:
        parts = [re.sub(r"\d+", "<n>", data["message"])]
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _title(data: dict[str, Any]) -> str:
    if data["exception_type"]:
        value = data["exception_value"].splitlines()[0] if data["exception_value"] else ""
        return f"{data['exception_type']}: {value}"[:500] if value else data["exception_type"]
    return (data["message"].splitlines() or ["(no message)"])[0][:500]


def _culprit(data: dict[str, Any]) -> str:
    frames = [f for f in data["frames"] if f["in_app"]] or data["frames"]
    if frames:
        last = frames[-1]
        return f"{last['module'] or last['filename']} in {last['function']}"[:500]
    return data["request_path"][:500]


def _get_or_create(session: Session, model: Any, **values: Any) -> Any:
    row = session.execute(select(model).filter_by(**values)).scalar_one_or_none()
    if row is not None:
        return row
    try:
        with session.begin_nested():
            row = model(**values)
            session.add(row)
        return row
    except IntegrityError:  # created by a concurrent writer
        return session.execute(select(model).filter_by(**values)).scalar_one()


def save_event(app: Flask, event: dict[str, Any]) -> tuple[int, bool] | None:
    """Store one sentry-sdk event; returns ``(event row id, is_new_issue)``, or None for a duplicate.

    Commits on its own session. A known issue's count and last-seen are counted through the buffer
    (``onboarding.buffer``), which loses and doubles nothing even when a flush dies or runs twice.
    """
    data = normalise(scrub(event))
    if not data["event_id"]:
        return None
    fp = fingerprint(data)
    with app.app_context(), Session(db.engine) as session:
        if session.execute(select(ErrorEvent.id).filter_by(event_id=data["event_id"])).first():
            return None
        release = _get_or_create(session, ErrorRelease, version=data["release"]) if data["release"] else None
        env = (
            _get_or_create(session, ErrorEnvironment, name=data["environment"])
            if data["environment"]
            else None
        )
        now = data["timestamp"]
        issue = session.execute(select(ErrorIssue).filter_by(fingerprint=fp)).scalar_one_or_none()
        is_new = False
        if issue is None:
            try:
                with session.begin_nested():
                    issue = ErrorIssue(
                        fingerprint=fp,
                        title=_title(data),
                        culprit=_culprit(data),
                        level=data["level"],
                        first_seen=now,
                        last_seen=now,
                        times_seen=1,
                        first_release_id=release.id if release else None,
                    )
                    session.add(issue)
                is_new = True
            except IntegrityError:
                issue = session.execute(select(ErrorIssue).filter_by(fingerprint=fp)).scalar_one()
        row = ErrorEvent(
            event_id=data["event_id"],
            issue_id=issue.id,
            release_id=release.id if release else None,
            environment_id=env.id if env else None,
            timestamp=now,
            level=data["level"],
            message=data["message"],
            exception_type=data["exception_type"],
            exception_value=data["exception_value"],
            request_method=data["request_method"],
            request_path=data["request_path"],
            user_id=data["user_id"],
            job_id=data["job_id"],
            tags=data["tags"],
            frames=data["frames"],
        )
        session.add(row)
        session.commit()
        if not is_new:
            # The count and last-seen of a known issue go through the counter buffer (Sentry's
            # buffer for groups): a storm of one error costs Redis increments, not row locks.
            from onboarding import buffer

            buffer.incr_now(ErrorIssue, {"times_seen": 1}, {"id": issue.id}, extra={"last_seen": now})
        return row.id, is_new


def mark_notified(issue_id: int) -> bool:
    """Claim the one notification of an issue; True for exactly one caller (a conditional UPDATE)."""
    result = db.session.execute(
        update(ErrorIssue)
        .where(ErrorIssue.id == issue_id, ErrorIssue.notified_at.is_(None))
        .values(notified_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
