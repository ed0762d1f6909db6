"""RQ queues by concern, enqueueing, and the worker that runs each job inside the app context."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app
from redis import Redis
from rq import Queue, SimpleWorker
from rq.job import Job, Retry
from rq.timeouts import TimerDeathPenalty

from onboarding import metrics
from onboarding.processes import forks_die_with_this_process
from onboarding.redisconn import get_redis

log = logging.getLogger(__name__)

QUEUES = ("default", "email", "outbox", "files", "events", "webhooks")
# Queues whose jobs call other people's servers: worked by threads of their own (see run_worker), so a slow
# endpoint never holds up mail, the outbox or the files, and one slow endpoint takes one thread at most.
SIDE_QUEUES = {"webhooks": 4}


def get_queue(name: str = "default") -> Queue:
    if name not in QUEUES:
        raise ValueError(f"unknown queue {name!r}")
    return Queue(name, connection=get_redis())


def enqueue(
    func: Callable[..., Any] | str,
    *args: Any,
    queue: str = "default",
    retry: Retry | None = None,
    job_id: str | None = None,
    **kwargs: Any,
) -> Job | None:
    """Queue ``func(*args, **kwargs)``; with ``JOBS_SYNC`` (tests) run it now instead.

    Job functions take ids, not objects: RQ stores their dotted path and arguments.
    """
    if current_app.config.get("JOBS_SYNC"):
        # Like a worker: its own app context, so its own database session.
        from onboarding.database import write_intent
        from onboarding.extensions import db

        app = current_app._get_current_object()  # type: ignore[attr-defined]
        with app.app_context(), write_intent(True):
            try:
                _resolve(func)(*args, **kwargs)
            finally:
                db.session.remove()
        return None
    start = time.perf_counter()
    job = get_queue(queue).enqueue(func, *args, retry=retry, job_id=job_id, **kwargs)  # type: ignore[type-var]
    metrics.job_enqueued(queue, time.perf_counter() - start)
    return job


def enqueue_at_slot(func: str, *, every: int, prefix: str, queue: str = "default") -> Job | None:
    """Run ``func`` at the next multiple of ``every`` seconds, once however often this is asked for
    within the slot (the job id names the slot). With ``JOBS_SYNC`` (tests) nothing is scheduled: a
    deferred job has no "later" there, and the caller may still hold a transaction; tests run it."""
    if current_app.config.get("JOBS_SYNC"):
        return None
    slot = int(time.time() // every) + 1
    when = datetime.fromtimestamp(slot * every, UTC)
    return get_queue(queue).enqueue_at(when, func, job_id=f"{prefix}-{slot}")


def _resolve(func: Callable[..., Any] | str) -> Callable[..., Any]:
    if callable(func):
        return func
    import importlib

    module, _, name = func.rpartition(".")
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


class AppWorker(SimpleWorker):
    """Runs each job in the worker process, inside a fresh application context.

    SimpleWorker (no fork per job) keeps the app, its database pool and its Redis client alive
    between jobs; a fresh app context per job gives each job its own database session.
    """

    flask_app: Flask | None = None

    def perform_job(self, job: Job, queue: Queue) -> bool:
        assert self.flask_app is not None
        from onboarding.extensions import db
        from onboarding.logs import job_id_var

        start = time.perf_counter()
        ok = False
        token = job_id_var.set(job.id)
        with self.flask_app.app_context():
            try:
                ok = super().perform_job(job, queue)
                return ok
            finally:
                db.session.remove()
                metrics.job_finished(queue.name, time.perf_counter() - start, ok)
                job_id_var.reset(token)

    def handle_exception(self, job: Job, *exc_info: Any) -> Any:
        # The failed job keeps nothing; rolling back also frees SQLite's write lock for the error capture
        # that sentry-sdk's RQ integration makes in the call below.
        from onboarding.extensions import db

        db.session.rollback()
        return super().handle_exception(job, *exc_info)


class SideWorker(AppWorker):
    """A worker in a thread of the worker process (:data:`SIDE_QUEUES`). Signals belong to the main
    thread, so it installs no handlers and times jobs out with a timer instead of SIGALRM."""

    death_penalty_class = TimerDeathPenalty

    def _install_signal_handlers(self) -> None:
        pass


def _start_side_workers(app: Flask, connection: Any, names: Sequence[str]) -> list[SideWorker]:
    workers = []
    for name in names:
        for n in range(SIDE_QUEUES[name]):
            side = SideWorker(
                [Queue(name, connection=connection)],
                connection=connection,
                worker_ttl=WORKER_TTL,
                maintenance_interval=MAINTENANCE_INTERVAL,
            )
            side.flask_app = app
            # One of them runs the RQ scheduler for this queue (retries are scheduled jobs).
            kwargs = {"with_scheduler": n == 0, "logging_level": "WARNING"}
            threading.Thread(target=side.work, kwargs=kwargs, name=f"{name}-{n}", daemon=True).start()
            workers.append(side)
    return workers


def _periodic_loop(app: Flask, periodic: Callable[[], None], stop: threading.Event) -> None:
    """Run ``periodic`` every ``OUTBOX_SWEEP_SECONDS`` for as long as the worker runs. It lives in the
    worker's process rather than as a job stored in Redis, so neither a Redis restarted without its data
    nor RQ's scheduler being down can stall the outbox; deliveries are leased, so workers never double."""
    from onboarding.extensions import db

    while not stop.is_set():
        with app.app_context():
            try:
                periodic()
            finally:
                db.session.remove()
        stop.wait(app.config["OUTBOX_SWEEP_SECONDS"])


# How often an idle worker wakes up (to heartbeat) and how often it runs its maintenance, which also
# takes over the scheduler when the worker that ran it died: both well under a minute (RQ's defaults,
# 405 s and 10 min, left scheduled work waiting ~15 minutes after a worker was killed).
WORKER_TTL = 35
MAINTENANCE_INTERVAL = 15


def release_dead_scheduler_locks(connection: Redis, queues: Sequence[str]) -> list[str]:
    """Release the scheduler locks of a scheduler process of this machine that is gone (killed with its
    worker), so that a restarted worker schedules at once instead of waiting for the lock to expire.
    Locks of other machines' schedulers are left to expire (a minute after their last heartbeat)."""
    import socket

    from rq.scheduler import SCHEDULER_KEY_TEMPLATE, SCHEDULER_LOCKING_KEY_TEMPLATE
    from rq.scripts import release_lock

    from onboarding.processes import process_alive

    freed = []
    for name in queues:
        key = SCHEDULER_LOCKING_KEY_TEMPLATE % name
        raw_owner = connection.get(key)
        if raw_owner is None:
            continue
        owner = _text(raw_owner)
        info = {_text(k): _text(v) for k, v in connection.hgetall(SCHEDULER_KEY_TEMPLATE % owner).items()}
        host, pid = info.get("hostname", ""), info.get("pid", "")
        gone = host == socket.gethostname() and pid.isdigit() and int(pid) > 0 and not process_alive(int(pid))
        if gone and release_lock(connection, key, owner):
            freed.append(name)
    if freed:
        log.warning("released the scheduler lock of a scheduler that is gone (%s)", ", ".join(freed))
    return freed


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def run_worker(
    app: Flask, queues: Sequence[str], *, burst: bool = False, periodic: Callable[[], None] | None = None
) -> bool:
    """Work ``queues`` until stopped (or empty, with ``burst``). ``periodic`` (the CLI passes
    :func:`onboarding.tasks.sweep`; this module knows no job) runs in a loop beside the worker."""
    # RQ's scheduler runs in a process forked from this one: it must not outlive this worker (a worker
    # killed with -9 used to leave it running, holding the scheduler lock).
    forks_die_with_this_process()
    with app.app_context():
        connection = get_redis()
        release_dead_scheduler_locks(connection, queues)
    side = [q for q in queues if q in SIDE_QUEUES] if not burst and len(queues) > 1 else []
    queues = [q for q in queues if q not in side]
    worker = AppWorker(
        [Queue(name, connection=connection) for name in queues],
        connection=connection,
        worker_ttl=WORKER_TTL,
        maintenance_interval=MAINTENANCE_INTERVAL,
    )
    worker.flask_app = app
    import gc

    gc.collect()
    gc.freeze()  # the app and the modules live as long as the worker: keep them out of every full collection
    stop = threading.Event()
    if not burst and periodic is not None:
        threading.Thread(target=_periodic_loop, args=(app, periodic, stop), name="sweep", daemon=True).start()
    side_workers = _start_side_workers(app, connection, side)
    try:
        # Quiet at INFO: RQ's lines for every job and for start-up say nothing an operator needs; its
        # warnings and errors (a failed job, a lost connection) still show.
        return bool(worker.work(burst=burst, with_scheduler=True, logging_level="WARNING"))
    finally:
        stop.set()
        for side_worker in side_workers:
            try:
                if side_worker.scheduler is not None:
                    # Its scheduler process releases its lock now, while Redis is still there (serve
                    # stops Redis only after this process has ended).
                    side_worker.stop_scheduler()
                side_worker.register_death()  # its thread ends with the process; /manage/status forgets it now
            except Exception:  # noqa: BLE001 - Redis gone: the registration expires by itself
                log.debug("could not unregister %s", side_worker.name)
