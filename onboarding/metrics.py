"""Prometheus metrics at ``/metrics``: counters and histograms recorded as things happen, gauges read at
scrape time.

Several processes: ``serve`` sets ``PROMETHEUS_MULTIPROC_DIR`` (``instance/prometheus``, emptied at
start) for the web processes and the job worker, so each process writes its counters and histograms
to files there and a scrape adds them up (prometheus-client's multiprocess mode). Without it (one
process, tests) the process's own registry is served. Gauges (queue depths, failed and scheduled
jobs, workers, outbox backlog) are computed from Redis and the database during the scrape, so they
are right whichever process answers.

Access: from loopback (and not through a proxy), or with ``Authorization: Bearer <METRICS_TOKEN>``
(``ONBOARDING_METRICS_TOKEN``); a wrong token gets 403, anyone else 404.

Other features record through the functions below, e.g. ``metrics.invite_sent()``.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

from flask import Blueprint, Flask, Response, abort, current_app, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector

bp = Blueprint("metrics", __name__)

REQUEST_LATENCY = Histogram(
    "onboarding_http_request_duration_seconds",
    "Time to answer a request, by endpoint.",
    ["endpoint", "method", "status"],
)
SIGN_INS = Counter("onboarding_sign_ins_total", "Sign-in attempts by outcome.", ["outcome"])
INVITES_SENT = Counter("onboarding_invites_sent_total", "Invitations sent (and re-sent).")
INVITES_ACCEPTED = Counter("onboarding_invites_accepted_total", "Invitations accepted.")
ENQUEUE_TIME = Histogram(
    "onboarding_job_enqueue_seconds",
    "Time to put a job on its queue (Sentry's jobs.delay).",
    ["queue"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
JOB_DURATION = Histogram(
    "onboarding_job_duration_seconds",
    "Time to run a job, by queue and outcome.",
    ["queue", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
JOB_FAILURES = Counter("onboarding_job_failures_total", "Jobs that raised, by queue.", ["queue"])

SIGN_IN_OUTCOMES = ("success", "failure", "throttled", "invalid", "disabled")


def sign_in(outcome: str) -> None:
    """Count one sign-in attempt: success, failure (wrong credentials), throttled, invalid, disabled."""
    SIGN_INS.labels(outcome=outcome if outcome in SIGN_IN_OUTCOMES else "other").inc()


def invite_sent(count: int = 1) -> None:
    INVITES_SENT.inc(count)


def invite_accepted() -> None:
    INVITES_ACCEPTED.inc()


def job_enqueued(queue: str, seconds: float) -> None:
    ENQUEUE_TIME.labels(queue=queue).observe(seconds)


def job_finished(queue: str, seconds: float, ok: bool) -> None:
    JOB_DURATION.labels(queue=queue, status="finished" if ok else "failed").observe(seconds)
    if not ok:
        JOB_FAILURES.labels(queue=queue).inc()


class StateSource(Protocol):
    """Where the scrape-time gauges come from (``onboarding.ops.status``, given by the app factory)."""

    def queue_states(self) -> Sequence[Any]: ...

    def workers(self) -> Sequence[Any]: ...

    def outbox_backlog(self) -> int | None: ...


class StateCollector:
    """Gauges read at scrape time (needs an application context)."""

    def __init__(self, status: StateSource) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        status = self.status
        redis_up = GaugeMetricFamily("onboarding_redis_up", "Whether Redis answered this scrape.")
        try:
            states = status.queue_states()
            worker_count = len(status.workers())
        except Exception:  # noqa: BLE001 - Redis down: say so instead of failing the scrape
            redis_up.add_metric([], 0)
            yield redis_up
        else:
            redis_up.add_metric([], 1)
            yield redis_up
            depth = GaugeMetricFamily(
                "onboarding_queue_depth", "Jobs waiting in each queue.", labels=["queue"]
            )
            jobs = GaugeMetricFamily(
                "onboarding_queue_jobs", "Jobs by queue and state.", labels=["queue", "state"]
            )
            for s in states:
                depth.add_metric([s.name], s.queued)
                for state in ("started", "failed", "scheduled"):
                    jobs.add_metric([s.name, state], getattr(s, state))
            yield depth
            yield jobs
            yield GaugeMetricFamily("onboarding_workers", "Job workers alive.", value=worker_count)
        try:
            backlog = status.outbox_backlog()
        except Exception:  # noqa: BLE001 - database down
            backlog = None
        if backlog is not None:
            yield GaugeMetricFamily(
                "onboarding_outbox_backlog", "Outbox messages not yet handled.", value=backlog
            )


def _is_loopback(addr: str | None) -> bool:
    try:
        return addr is not None and ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return False


def _check_access() -> None:
    token = current_app.config.get("METRICS_TOKEN")
    header = request.headers.get("Authorization", "")
    if header:
        given = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if token and given and hmac.compare_digest(given.encode(), str(token).encode()):
            return
        abort(403)
    # Loopback only when no proxy forwarded the request (a local reverse proxy would make everyone local).
    if _is_loopback(request.remote_addr) and "X-Forwarded-For" not in request.headers:
        return
    abort(404)


@bp.get("/metrics")
def metrics() -> Response:
    _check_access()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    state = CollectorRegistry()
    state.register(StateCollector(current_app.extensions["metrics_state"]))  # type: ignore[arg-type]
    body += generate_latest(state)
    return Response(body, mimetype=CONTENT_TYPE_LATEST.split(";")[0], content_type=CONTENT_TYPE_LATEST)


def _start_timer() -> None:
    g._metrics_start = time.perf_counter()


def _observe(resp: Response) -> Response:
    start = g.pop("_metrics_start", None)
    if start is not None and request.endpoint != "metrics.metrics":
        REQUEST_LATENCY.labels(
            endpoint=request.endpoint or "unmatched", method=request.method, status=str(resp.status_code)
        ).observe(time.perf_counter() - start)
    return resp


def init_app(app: Flask, state: StateSource) -> None:
    """Time every request and serve ``/metrics``; ``state`` answers the scrape-time gauges."""
    app.extensions["metrics_state"] = state
    app.before_request_funcs.setdefault(None, []).insert(0, _start_timer)
    app.after_request(_observe)
    app.register_blueprint(bp)
