"""The embedded Redis never runs twice on one instance folder, and a live socket is never removed."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from redis import Redis

from onboarding import embedded_redis

pytestmark = pytest.mark.slow


@pytest.fixture
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="onb-redis-"))  # short: the socket's path has a length limit
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_a_second_start_on_the_folder_is_refused_and_the_first_keeps_working(folder: Path) -> None:
    first = embedded_redis.start(folder, persist=False)
    try:
        sock = embedded_redis.socket_path(folder)
        with pytest.raises(embedded_redis.AlreadyRunning):
            embedded_redis.start(folder, persist=False)
        assert sock.exists()
        assert Redis(unix_socket_path=str(sock)).ping()
        # The lock is held by redis-server itself: it goes when that process goes, and a new start works.
        first.kill()
        first.wait()
        again = embedded_redis.start(folder, persist=False)  # the dead server's socket is replaced
        again.terminate()
        again.wait()
    finally:
        if first.poll() is None:
            first.kill()
            first.wait()


def test_a_live_socket_is_never_removed(folder: Path) -> None:
    """Even without its lock (a server started by an older version): something answers, so it stays."""
    first = embedded_redis.start(folder, persist=False)
    try:
        (folder / "redis" / "redis.lock").unlink()  # as if started before the lock existed
        sock = embedded_redis.socket_path(folder)
        inode = sock.stat().st_ino
        with pytest.raises(embedded_redis.AlreadyRunning):
            embedded_redis.start(folder, persist=False)
        assert sock.stat().st_ino == inode
        assert Redis(unix_socket_path=str(sock)).ping()
    finally:
        first.terminate()
        first.wait()
