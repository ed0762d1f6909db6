"""``serve`` owns its children (they end with it however it ends), supervises them, and runs once per folder.

Real processes throughout: ``onboarding serve`` with gunicorn, a job worker (and its scheduler process) and an
embedded Redis, ended by real signals.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from redis import Redis

from tests.conftest import free_port
from tests.serve_helpers import ONBOARDING, Server, env_for

pytestmark = pytest.mark.slow


@pytest.fixture
def short_tmp() -> Iterator[Path]:
    """A short folder: the embedded Redis socket's path must stay under the system's limit."""
    folder = Path(tempfile.mkdtemp(prefix="onb-life-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def server(short_tmp: Path) -> Iterator[Server]:
    srv = Server(short_tmp / "instance", free_port())
    try:
        srv.wait_for(r"Create one at: ")
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.kill_all()
        psutil.wait_procs(_tree(srv), timeout=10)


def _tree(srv: Server) -> list[psutil.Process]:
    try:
        return srv.descendants()
    except psutil.NoSuchProcess:
        return []


def _named(procs: list[psutil.Process], word: str) -> list[psutil.Process]:
    found = []
    for proc in procs:
        try:
            if word in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            pass
    return found


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGKILL])
def test_children_end_with_serve_however_it_ends(server: Server, signum: int) -> None:
    children = server.descendants()
    # gunicorn's master and its 2 web processes, the job worker and its scheduler process(es), Redis.
    assert len(_named(children, "gunicorn")) == 3, [c.cmdline() for c in children]
    assert len(_named(children, "onboarding.cli worker")) >= 2, [c.cmdline() for c in children]
    assert len(_named(children, "redis-server")) == 1
    server.proc.send_signal(signum)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], [" ".join(p.cmdline()) for p in alive]
    assert server.proc.wait(timeout=10) == (-signal.SIGKILL if signum == signal.SIGKILL else 0)


def test_a_second_serve_on_the_folder_stops_at_once_and_changes_nothing(server: Server) -> None:
    sock = server.instance / "redis" / "redis.sock"
    redis_before = _named(server.descendants(), "redis-server")
    started = time.monotonic()
    second = subprocess.run(
        [ONBOARDING, "serve", "--port", str(free_port())],
        env=env_for(server.instance),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert time.monotonic() - started < 15
    assert second.returncode == 1
    assert second.stdout == ""
    assert second.stderr == f"Onboarding is already running here (pid {server.proc.pid}, {server.url}/).\n"
    # The first one keeps working: its socket, its Redis, its readiness, and its setup link.
    assert sock.exists() and _named(server.descendants(), "redis-server") == redis_before
    assert _status(f"{server.url}/readyz") == 200
    link = server.wait_for(r"Create one at: (\S+)").group(1)
    assert _status(link) == 200
    assert sum("Create one at" in line for line in server.lines) == 1


def test_the_setup_link_is_the_last_line(server: Server) -> None:
    time.sleep(3)  # the worker and the web processes have long started; nothing more is printed
    assert server.lines[-2].startswith(f"Onboarding is running at {server.url}/")
    assert server.lines[-1].startswith(f"No administrator yet. Create one at: {server.url}/setup/")
    assert not any("alembic" in line or "INFO" in line for line in server.lines), server.lines


def test_setup_link_command_replaces_the_printed_link(server: Server) -> None:
    printed = server.wait_for(r"Create one at: (\S+)").group(1)
    result = subprocess.run(
        [ONBOARDING, "setup-link"], env=env_for(server.instance), capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    fresh = result.stdout.strip().rpartition(" ")[2]
    assert fresh.startswith(f"{server.url}/setup/") and fresh != printed  # the running serve's URL
    assert _status(printed) == 404
    assert _status(fresh) == 200


def _kill_and_wait_restart(server: Server, word: str, logged: str) -> psutil.Process:
    (old,) = [p for p in _named(server.descendants(), word) if p.ppid() == server.proc.pid]
    old.kill()
    server.wait_for(rf"{logged} exited with code -9; restarting it in 1 s", timeout=20)
    server.wait_for(rf"{logged} restarted \(pid \d+\)", timeout=60)
    (new,) = [p for p in _named(server.descendants(), word) if p.ppid() == server.proc.pid]
    assert new.pid != old.pid
    return new


def test_dead_children_are_restarted_and_scheduled_work_resumes(server: Server) -> None:
    redis = Redis(unix_socket_path=str(server.instance / "redis" / "redis.sock"))
    # The web server: a new gunicorn answers on the same URL.
    _kill_and_wait_restart(server, "gunicorn", "web server")
    assert _status(f"{server.url}/healthz") == 200
    # Redis: a new one on the same socket (nothing else deleted it), and the app is ready again.
    _kill_and_wait_restart(server, "redis-server", "embedded Redis")
    deadline = time.monotonic() + 30
    while _status(f"{server.url}/readyz") != 200:
        assert time.monotonic() < deadline, "not ready again after Redis restarted"
        time.sleep(0.5)
    # The worker and its scheduler, killed together (as the OOM killer might): the scheduler lock they
    # held must not keep the new worker from scheduling for the lock's lifetime.
    deadline = time.monotonic() + 30
    while redis.get("rq:scheduler-lock:outbox") is None:
        assert time.monotonic() < deadline, "the first worker never took the scheduler lock"
        time.sleep(0.5)
    (worker,) = [
        p for p in _named(server.descendants(), "onboarding.cli worker") if p.ppid() == server.proc.pid
    ]
    for proc in [*worker.children(), worker]:
        proc.kill()
    server.wait_for(r"job worker exited with code -9; restarting it in 1 s", timeout=20)
    killed_at = time.monotonic()
    deadline = killed_at + 60
    while True:
        owner = redis.get("rq:scheduler-lock:outbox")
        pid = redis.hget(f"rq:scheduler:{owner.decode()}", "pid") if owner else None
        if pid and psutil.pid_exists(int(pid)) and int(pid) in [p.pid for p in server.descendants()]:
            break
        assert time.monotonic() < deadline, "scheduled work did not resume within a minute"
        time.sleep(0.5)
    # Scheduled work runs again: a job scheduled for a moment from now is run by the new worker.
    from datetime import UTC, datetime, timedelta

    from rq import Queue
    from rq.job import JobStatus

    job = Queue("default", connection=redis).enqueue_at(
        datetime.now(UTC) + timedelta(seconds=1), "onboarding.tasks.flush_buffer"
    )
    deadline = time.monotonic() + 30
    while job.get_status(refresh=True) != JobStatus.FINISHED:
        assert time.monotonic() < deadline, f"the scheduled job is still {job.get_status()}"
        time.sleep(0.5)
    assert time.monotonic() - killed_at < 60
    # Nothing at INFO from the worker while all this went on (the sweep and the job ran silently).
    assert not [line for line in server.lines if " INFO rq." in line], server.lines
    assert server.proc.poll() is None
