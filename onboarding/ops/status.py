"""What the status page and ``/metrics`` report: queues, workers, failed and scheduled jobs, outbox.

Everything is read at the moment it is asked for (from Redis and the database), so the figures are
the same whichever web process answers.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry, StartedJobRegistry

from onboarding.queue import QUEUES
from onboarding.redisconn import get_redis

LAST_FLUSH_KEY = "buffer:last_flush"


def outbox_backlog() -> int | None:
    """Messages waiting in the outbox (signals and emails not yet delivered)."""
    from onboarding.outbox.service import backlog

    return backlog()


@dataclass
class QueueState:
    name: str
    queued: int
    started: int
    failed: int
    scheduled: int
    failed_jobs: list[Job] = field(default_factory=list)
    scheduled_jobs: list[tuple[Job, datetime | None]] = field(default_factory=list)


def queue_states(*, with_jobs: int = 0) -> list[QueueState]:
    """Depth of every queue; with ``with_jobs`` > 0, up to that many failed and scheduled jobs each."""
    conn = get_redis()
    states = []
    for name in QUEUES:
        queue = Queue(name, connection=conn)
        failed = FailedJobRegistry(queue=queue)
        scheduled = ScheduledJobRegistry(queue=queue)
        state = QueueState(
            name=name,
            queued=queue.count,
            started=StartedJobRegistry(queue=queue).count,
            failed=failed.count,
            scheduled=scheduled.count,
        )
        if with_jobs:
            ids = failed.get_job_ids(0, with_jobs - 1)
            state.failed_jobs = [j for j in Job.fetch_many(ids, connection=conn) if j is not None]
            sids = scheduled.get_job_ids(0, with_jobs - 1)
            for job in Job.fetch_many(sids, connection=conn):
                if job is not None:
                    state.scheduled_jobs.append((job, _scheduled_time(scheduled, job)))
        states.append(state)
    return states


def _scheduled_time(registry: ScheduledJobRegistry, job: Job) -> datetime | None:
    try:
        return registry.get_scheduled_time(job).replace(tzinfo=None)
    except Exception:  # noqa: BLE001 - the job may have been moved meanwhile
        return None


def workers() -> list[dict[str, Any]]:
    result = []
    for w in Worker.all(connection=get_redis()):
        job = w.get_current_job_id()
        result.append(
            {
                "name": w.name,
                "state": w.get_state(),
                "queues": ", ".join(w.queue_names()),
                "current_job": job or "",
                "last_heartbeat": w.last_heartbeat.replace(tzinfo=None) if w.last_heartbeat else None,
                "successful": w.successful_job_count,
                "failed": w.failed_job_count,
            }
        )
    return result


def last_counter_flush() -> str | None:
    """When the counter buffer last flushed (``buffer:last_flush`` in Redis), or None if never."""
    raw = get_redis().get(LAST_FLUSH_KEY)
    if raw is None:
        return None
    value = raw.decode() if isinstance(raw, bytes) else str(raw)
    try:
        # A Unix timestamp is shown as UTC; anything else as written.
        return datetime.fromtimestamp(float(value), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except ValueError:
        return value


def last_error(job: Job) -> str:
    """The last line of the job's latest exception (``ReportFailure: …``)."""
    result = job.latest_result()
    text = (result.exc_string if result is not None else "") or ""
    lines = text.strip().splitlines()
    return lines[-1] if lines else ""


def failed_job(queue_name: str, job_id: str) -> tuple[FailedJobRegistry, Job] | None:
    if queue_name not in QUEUES:
        return None
    registry = FailedJobRegistry(queue=Queue(queue_name, connection=get_redis()))
    if job_id not in registry.get_job_ids():
        return None
    try:
        return registry, Job.fetch(job_id, connection=get_redis())
    except Exception:  # noqa: BLE001 - expired or deleted meanwhile
        return None
