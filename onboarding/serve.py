"""``onboarding serve``: one instance lock, children that die with it, and a supervisor that restarts them.

- The instance lock (``instance/serve.lock``, an ``flock`` held for serve's life) makes a second ``serve``
  on the same folder stop at once, naming the running one's pid and URL.
- Every child (embedded Redis, job worker, gunicorn) is started with ``PR_SET_PDEATHSIG`` (Linux) so it
  ends when serve ends, by Ctrl-C, SIGTERM, SIGHUP or SIGKILL alike; gunicorn's web processes and the
  worker's scheduler process die with their own parent in turn.
- A child that exits while serve runs is restarted after a back-off (1 s, doubling to 30 s; back to 1 s
  once it has run for a minute) and the restart is logged; serve itself goes on.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from onboarding.gunicorn_hooks import READY_FD_ENV
from onboarding.processes import FileLock, child_preexec

LOCK_NAME = "serve.lock"
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0
STOP_BUDGET = 7.0  # seconds for the web server and the worker to stop before they are killed
REDIS = "embedded Redis"  # the child stopped last  # a child that ran this long before dying starts again from the first back-off


class Stop(Exception):
    """A stop signal arrived (Ctrl-C, SIGTERM, SIGHUP)."""


def say(message: str, *, err: bool = False) -> None:
    """Print, but never fail: after SIGHUP the terminal may be gone."""
    with contextlib.suppress(OSError, ValueError):
        click.echo(message, err=err)


def instance_lock(instance_path: str) -> FileLock:
    return FileLock(Path(instance_path) / LOCK_NAME)


def running_url(instance_path: str) -> str | None:
    """The URL of the ``serve`` running on this instance folder, if one runs."""
    lock = instance_lock(instance_path)
    if lock.acquire():
        lock.release()
        return None
    _, _, url = lock.holder_note().partition(" ")
    return url or None


def take_instance_lock(instance_path: str, url: str) -> FileLock:
    """Hold this folder's lock for as long as serve lives, or exit 1 naming the serve that holds it."""
    lock = instance_lock(instance_path)
    if not lock.acquire(f"{os.getpid()} {url}\n"):
        pid, _, running = lock.holder_note().partition(" ")
        say(f"Onboarding is already running here (pid {pid or '?'}, {running or 'URL unknown'}).", err=True)
        sys.exit(1)
    return lock


@dataclass
class Child:
    name: str
    start: Callable[[], subprocess.Popen[bytes]]
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    delay: float = BACKOFF_FIRST
    restart_at: float | None = None
    restarts: int = field(default=0)


class Supervisor:
    """Starts children, restarts the ones that die, and stops them all (web, worker, Redis) at the end."""

    def __init__(self) -> None:
        self.children: list[Child] = []
        self.stopping = False

    def add(self, name: str, start: Callable[[], subprocess.Popen[bytes]]) -> Child:
        child = Child(name, start)
        child.proc = start()
        child.started_at = time.monotonic()
        self.children.append(child)
        return child

    def check(self) -> None:
        """Notice children that died and restart those whose back-off is over."""
        now = time.monotonic()
        for child in self.children:
            proc = child.proc
            if proc is not None and proc.poll() is not None and child.restart_at is None:
                if now - child.started_at >= STABLE_AFTER:
                    child.delay = BACKOFF_FIRST
                say(
                    f"{child.name} exited with code {proc.returncode}; restarting it in {child.delay:.0f} s",
                    err=True,
                )
                child.restart_at = now + child.delay
                child.delay = min(child.delay * 2, BACKOFF_MAX)
            if child.restart_at is not None and now >= child.restart_at:
                try:
                    child.proc = child.start()
                except Exception as exc:  # noqa: BLE001 - try again later, serve goes on
                    say(
                        f"{child.name} could not start ({exc}); trying again in {child.delay:.0f} s", err=True
                    )
                    child.restart_at = now + child.delay
                    child.delay = min(child.delay * 2, BACKOFF_MAX)
                    continue
                child.restart_at, child.started_at = None, time.monotonic()
                child.restarts += 1
                say(f"{child.name} restarted (pid {child.proc.pid})", err=True)

    def stop_all(self) -> None:
        """Web and worker together (the web takes no new requests, the worker finishes its job), Redis
        last; whatever has not ended within the budget is killed, so all is gone within 10 seconds."""
        self.stopping = True
        redis = [c for c in self.children if c.name == REDIS]
        self._stop([c for c in self.children if c.name != REDIS], budget=STOP_BUDGET)
        self._stop(redis, budget=2.0)

    def _stop(self, children: list[Child], *, budget: float) -> None:
        procs = [(c.name, c.proc) for c in children if c.proc is not None]
        for _, proc in procs:
            if proc.poll() is None:
                proc.terminate()
        deadline = time.monotonic() + budget
        for name, proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in time; killing it", err=True)
                proc.kill()
                proc.wait()


def install_stop_signals(supervisor: Supervisor) -> None:
    def on_signal(signum: int, _frame: Any) -> None:
        if supervisor.stopping:
            return  # a second Ctrl-C while stopping: the stop goes on
        raise Stop(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)


def start_web(
    command: list[str], env: dict[str, str], *, processes: int, url: str
) -> subprocess.Popen[bytes]:
    """Start gunicorn and wait until it holds the port and all its web processes serve."""
    read_end, write_end = os.pipe()
    try:
        proc = subprocess.Popen(
            command,
            env={**env, READY_FD_ENV: str(write_end)},
            pass_fds=(write_end,),
            start_new_session=True,  # Ctrl-C reaches serve only, which stops the web first
            preexec_fn=child_preexec(),
        )
    finally:
        os.close(write_end)
    try:
        _wait_web_ready(proc, read_end, processes, url)
    except BaseException:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=15)
        raise
    finally:
        os.close(read_end)
    return proc


def _wait_web_ready(
    proc: subprocess.Popen[bytes], read_end: int, processes: int, url: str, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    received = b""
    while received.count(b"worker\n") < processes or b"bound\n" not in received:
        left = deadline - time.monotonic()
        if left <= 0:
            raise click.ClickException(f"the web server did not start on {url} within {timeout:.0f}s")
        ready, _, _ = select.select([read_end], [], [], min(left, 0.2))
        if ready:
            chunk = os.read(read_end, 4096)
            if chunk:
                received += chunk
                continue
            time.sleep(0.1)  # every writer closed the pipe: gunicorn is ending
        if proc.poll() is not None:
            raise click.ClickException(
                f"the web server exited with code {proc.returncode} during start-up (is {url} in use?)"
            )
    # The port is ours (gunicorn holds it) and every web process has loaded the app: what answers on
    # the URL now is this server, not whatever else may have answered there before.
