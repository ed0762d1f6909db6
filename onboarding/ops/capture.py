"""sentry-sdk wiring: every captured error is stored locally, and also sent to Sentry when a DSN is set.

sentry-sdk does the capturing (request data from its Flask integration, job data from its RQ
integration, stack frames, release and environment). Its client is process-wide, so it is set up once
per process and again only when the DSN, release or environment change. ``LocalTransport`` receives
each envelope, saves the error event through :mod:`onboarding.ops.events` in the app it came from, and
forwards the envelope to Sentry's own HTTP transport when a DSN is configured.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from flask import Flask, current_app, g, has_app_context, has_request_context, request
from sentry_sdk.envelope import Envelope
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.integrations.redis import RedisIntegration
from sentry_sdk.transport import HttpTransport, Transport
from sqlalchemy import inspect as sa_inspect

from onboarding.ops import events

log = logging.getLogger(__name__)

_state: dict[str, Any] = {"key": None, "app": None}


class LocalTransport(Transport):
    """Saves error events into our tables; forwards everything to Sentry too when a DSN is set."""

    def __init__(self, options: dict[str, Any]) -> None:
        super().__init__(options)
        self.remote: Transport | None = HttpTransport(options) if options.get("dsn") else None

    def capture_envelope(self, envelope: Envelope) -> None:
        event = envelope.get_event()
        if event is not None and event.get("type") in (None, "error", "default"):
            app = current_app._get_current_object() if has_app_context() else _state["app"]  # type: ignore[attr-defined]
            if app is not None:
                store(app, dict(event))
        if self.remote is not None:
            self.remote.capture_envelope(envelope)

    def flush(self, timeout: float, callback: Any | None = None) -> None:
        if self.remote is not None:
            self.remote.flush(timeout, callback)

    def kill(self) -> None:
        if self.remote is not None:
            self.remote.kill()


def store(app: Flask, event: dict[str, Any]) -> None:
    """Save the event and queue its post-processing; a failure here is logged, never raised."""
    from onboarding.database import write_intent

    try:
        with write_intent(True):
            saved = events.save_event(app, event)
        if saved is None:
            return
        row_id, is_new = saved
        if is_new:
            with app.app_context():
                from onboarding.queue import enqueue

                enqueue("onboarding.tasks.post_process_error", row_id, queue="events")
    except Exception:  # noqa: BLE001 - error capture must never raise into the failing code path
        log.warning("could not store a captured error event", exc_info=True)


def _before_send(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Runs for local and remote alike: only the user id (no email, no IP), tags for request and job."""
    if has_request_context():
        # Without the SDK's Flask integration (no DSN), the request is named here: method and URL.
        event.setdefault("request", {"method": request.method, "url": request.base_url})
        # The user this request loaded, without a query: the failed request's session is rolled back and
        # loading again would start a transaction (on SQLite, a write lock the capture then waits for).
        state = sa_inspect(g.get("_login_user"), raiseerr=False)
        if state is not None and state.identity:
            event["user"] = {"id": str(state.identity[0])}
        request_id = g.get("request_id")
        if request_id:
            event.setdefault("tags", {})["request_id"] = request_id
    job = (event.get("extra") or {}).get("rq-job") or {}
    if job.get("job_id"):
        event.setdefault("tags", {})["job_id"] = str(job["job_id"])
    scrubbed: dict[str, Any] = events.scrub(event)
    return scrubbed


def init_app(app: Flask) -> None:
    """Set up sentry-sdk for this process (once, unless its options change) with the local transport."""
    from onboarding.version import __version__

    _state["app"] = app
    if not app.config.get("ERROR_CAPTURE", True):
        return
    dsn = app.config.get("SENTRY_DSN") or None
    environment = str(app.config.get("ENVIRONMENT") or "production")
    key = (dsn, environment, __version__)
    if _state["key"] == key:
        return
    options: dict[str, Any] = {
        "dsn": dsn,
        "release": f"onboarding@{__version__}",
        "environment": environment,
        "include_local_variables": False,  # locals hold passwords and tokens too easily
        "max_request_body_size": "never",
        "traces_sample_rate": None,
        # No sentry-trace or baggage headers on outgoing calls: webhooks go to other people's servers.
        "trace_propagation_targets": [],
        "auto_session_tracking": False,
        "before_send": _before_send,
        "in_app_include": ["onboarding"],
    }
    if dsn:
        # For Sentry itself: its Flask, SQLAlchemy, … integrations add request data, breadcrumbs and spans.
        # Log records become breadcrumbs only; error events come from real exceptions.
        options["integrations"] = [LoggingIntegration(level=logging.INFO, event_level=None)]
        # Redis breadcrumbs would carry key names such as rate-limit keys with email addresses.
        options["disabled_integrations"] = [RedisIntegration()]
    else:
        # Local capture only: the app captures its own errors (web.errors, database.on_commit), so the SDK
        # wraps no request and no SQL statement (that instrumentation cost ~10 % of a page view and its
        # breadcrumbs are never stored here). Jobs keep RQ's integration, which captures a failed job.
        from sentry_sdk.integrations.rq import RqIntegration

        options["default_integrations"] = False
        options["auto_enabling_integrations"] = False
        options["integrations"] = [RqIntegration()]
    options["transport"] = LocalTransport({**_transport_defaults(), **options})
    sentry_sdk.init(**options)
    _state["key"] = key


def _transport_defaults() -> dict[str, Any]:
    # HttpTransport reads these client options; give it the SDK defaults.
    from sentry_sdk.consts import DEFAULT_OPTIONS

    return {k: v for k, v in DEFAULT_OPTIONS.items() if k not in ("dsn", "transport", "before_send")}


def capture_exception(exc: BaseException) -> None:
    sentry_sdk.capture_exception(exc)
