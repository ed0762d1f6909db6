"""Process ownership for ``serve``: children that die with their parent, and file locks held for a life.

- :func:`die_with_parent` asks the kernel (Linux ``PR_SET_PDEATHSIG``) to signal this process when its
  parent ends, however the parent ends (SIGKILL and the OOM killer included). Elsewhere a watchdog
  thread notices that the parent changed and signals this process the same way.
- :class:`FileLock` is an exclusive ``flock`` on a file: held while the holding process (or any process it
  handed the descriptor to) lives, released by the kernel when it dies, so it never lies after a crash as a
  pid file would. The holder writes a line of its own into the file for whoever finds it taken.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

_PR_SET_PDEATHSIG = 1


def _prctl_pdeathsig(sig: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)) == 0
    except (OSError, AttributeError):  # pragma: no cover - no prctl in this libc
        return False


def die_with_parent(parent: int | None = None, sig: int = signal.SIGTERM) -> None:
    """Make this process receive ``sig`` when its parent (pid ``parent``, by default the current one) ends."""
    parent = os.getppid() if parent is None else parent
    if not _prctl_pdeathsig(sig):
        _watch_parent(parent, sig)
    if os.getppid() != parent:  # the parent ended before we asked: the signal will not come
        os.kill(os.getpid(), sig)


def _watch_parent(parent: int, sig: int) -> None:
    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), sig)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def child_preexec(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A ``preexec_fn`` for :class:`subprocess.Popen`: the child dies with the process that starts it."""
    parent = os.getpid()

    def preexec() -> None:
        # Not Linux: an exec'd program keeps no watchdog thread; serve still stops it on the way out.
        _prctl_pdeathsig(sig)
        if os.getppid() != parent:
            os.kill(os.getpid(), sig)

    return preexec


def forks_die_with_this_process(sig: int = signal.SIGTERM) -> None:
    """Every process forked from this one from now on (e.g. RQ's scheduler) dies with this one."""
    parent = os.getpid()

    def after_in_child() -> None:
        die_with_parent(parent, sig)

    os.register_at_fork(after_in_child=after_in_child)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class FileLock:
    """An exclusive, non-blocking ``flock`` on ``path``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.fd: int | None = None

    def acquire(self, note: str = "") -> bool:
        """Take the lock and write ``note`` into the file; False (and nothing changed) when it is held."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self.fd = fd
        self.write(note)
        return True

    def write(self, note: str) -> None:
        assert self.fd is not None
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, note.encode(), 0)

    def holder_note(self, wait: float = 2.0) -> str:
        """What the holder wrote (it writes just after taking the lock, so wait a moment for it)."""
        deadline = time.monotonic() + wait
        while True:
            with contextlib.suppress(OSError):
                text = self.path.read_text(errors="replace").strip()
                if text or time.monotonic() > deadline:
                    return text
            if time.monotonic() > deadline:
                return ""
            time.sleep(0.05)

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing the last descriptor of the file releases the lock
            self.fd = None
