"""Logging: a request id on every request, secrets masked in every line, JSON lines when configured.

- Request id: the ``X-Request-ID`` header when it looks like one (up to 128 of ``A-Za-z0-9._:-``),
  otherwise a new one; echoed in the response's ``X-Request-ID`` and added to captured errors.
- Every record gets ``request_id`` and ``job_id`` attributes (the RQ job being run, if any), and its
  message and traceback are scrubbed like captured errors (invite tokens in paths become ``…``).
- ``ONBOARDING_LOG_FORMAT=json``: one JSON object per line (``time``, ``level``, ``logger``,
  ``message``, ``request_id``, ``job_id``, ``exception``).
- ``ONBOARDING_ACCESS_LOG=true``: one line per request (method, masked path, status, duration); ``serve``
  turns it on and the web server's own access log (which would show raw paths) off.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, g, has_request_context, request
from werkzeug.wrappers import Response

from onboarding.web.logmask import scrub_text

_VALID_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
access_log = logging.getLogger("onboarding.access")


def current_request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


# Set by the worker around a whole job (its failure handling included); rq's own stack is the fallback.
job_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


def current_job_id() -> str | None:
    if job_id_var.get():
        return job_id_var.get()
    try:
        from rq import get_current_job

        job = get_current_job()
    except Exception:  # noqa: BLE001 - outside a worker there is no job
        return None
    return job.id if job is not None else None


class ContextFilter(logging.Filter):
    """Adds ``request_id`` and ``job_id``; masks tokens in the message and the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        record.job_id = current_job_id() or "-"
        if not getattr(record, "_scrubbed", False):
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - a bad format string: keep the record as it is
                return True
            record.msg, record.args = scrub_text(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = scrub_text(logging.Formatter().formatException(record.exc_info))
            record._scrubbed = True
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": _dash_to_none(getattr(record, "request_id", None)),
            "job_id": _dash_to_none(getattr(record, "job_id", None)),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub_text(self.formatException(record.exc_info))
        if record.exc_text:
            entry["exception"] = record.exc_text
        for key in ("ip", "method", "path", "status", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _dash_to_none(value: Any) -> Any:
    return None if value in (None, "-") else value


def configure(fmt: str) -> None:
    """Put the filter (and for ``json`` the JSON formatter) on every handler of the root logger."""
    for handler in logging.root.handlers:
        if not any(isinstance(f, ContextFilter) for f in handler.filters):
            handler.addFilter(ContextFilter())
        if fmt == "json":
            handler.setFormatter(JsonFormatter())


def _start() -> None:
    given = request.headers.get("X-Request-ID", "")
    g.request_id = given if _VALID_ID.match(given) else uuid.uuid4().hex
    g._log_start = time.perf_counter()


def _finish(resp: Response) -> Response:
    request_id = g.get("request_id")
    if request_id:
        resp.headers["X-Request-ID"] = request_id
    return resp


def _access(resp: Response) -> Response:
    start = g.get("_log_start")
    duration = round((time.perf_counter() - start) * 1000, 1) if start is not None else None
    path = scrub_text(request.path)
    access_log.info(
        "%s %s %s %s %sms",
        request.remote_addr,
        request.method,
        path,
        resp.status_code,
        duration,
        extra={
            "ip": request.remote_addr,
            "method": request.method,
            "path": path,
            "status": resp.status_code,
            "duration_ms": duration,
            "_scrubbed": True,  # the path is masked above; the rest holds no secret: skip the filter's pass
        },
    )
    return resp


def init_app(app: Flask) -> None:
    configure(app.config["LOG_FORMAT"])
    app.before_request_funcs.setdefault(None, []).insert(0, _start)
    app.after_request(_finish)
    if app.config.get("ACCESS_LOG"):
        app.after_request(_access)
