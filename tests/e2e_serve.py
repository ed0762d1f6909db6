"""Run the real thing: ``onboarding createuser`` and ``onboarding serve`` as subprocesses in a temporary
instance folder (gunicorn, a real RQ worker, an embedded Redis), for end-to-end tests."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import free_port

CLI = [sys.executable, "-m", "onboarding.cli"]


@dataclass
class Served:
    base: str
    log: Path
    env: dict[str, str]


def serve_env(folder: Path, base: str, **extra: str) -> dict[str, str]:
    """A clean environment: only the ONBOARDING_* variables given here (cheap password hashing)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env.update(
        ONBOARDING_INSTANCE_PATH=str(folder / "instance"),
        ONBOARDING_BASE_URL=base,
        ONBOARDING_SECRET_KEY="end-to-end-test-secret",
        ONBOARDING_ARGON2_TIME_COST="1",
        ONBOARDING_ARGON2_MEMORY_COST="8",
    )
    env.update(extra)
    return env


def createuser(env: dict[str, str], *args: str) -> str:
    made = subprocess.run(
        [*CLI, "createuser", *args, "--no-input"], env=env, capture_output=True, text=True, timeout=120
    )
    assert made.returncode == 0, made.stdout + made.stderr
    return made.stdout


def wait_healthy(proc: subprocess.Popen[bytes], base: str, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert proc.poll() is None, log.read_text(errors="replace")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=1) as resp:  # noqa: S310 - our own server
                if resp.status == 200:
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline, "the server did not start:\n" + log.read_text(errors="replace")
        time.sleep(0.3)


@contextmanager
def served(users: list[list[str]], **extra_env: str) -> Iterator[Served]:
    """``createuser`` for each argument list in ``users``, then ``serve``; SIGTERM to it at the end."""
    folder = Path(tempfile.mkdtemp(prefix="onb-e2e-"))  # short: the embedded Redis socket lives here
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = serve_env(folder, base, **extra_env)
    log_path = folder / "serve.log"
    log = log_path.open("wb")
    proc: subprocess.Popen[bytes] | None = None
    try:
        for args in users:
            createuser(env, *args)
        proc = subprocess.Popen(
            [*CLI, "serve", "--port", str(port), "--workers", "1"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_healthy(proc, base, log_path)
        yield Served(base, log_path, env)
    finally:
        if proc is not None:
            # serve stops what it started (web, worker, Redis) on SIGTERM; its group gets it too.
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)
