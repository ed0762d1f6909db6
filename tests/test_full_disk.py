"""SECURITY.md: a full or read-only disk gives a clean error page, and the process stays up. The SQLite
database lives on a small tmpfs this test mounts itself (never the machine's disks or services); the
disk is filled, then made read-only, and each time the app answers with its error page and serves again
once the disk is back."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
from pathlib import Path

import pytest

from onboarding import create_app
from onboarding.extensions import db
from tests.conftest import base_config
from tests.factories import PASSWORD, login

pytestmark = pytest.mark.slow


@pytest.fixture
def small_disk(tmp_path: Path):  # type: ignore[no-untyped-def]
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (root is needed): {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(folder: Path) -> Path:
    filler = folder / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * 65536)
            out.flush()
            os.fsync(out.fileno())
    return filler


def _checkpoint(database: Path) -> None:
    """Empty the WAL (every pooled connection closed first), so the next write needs new disk space."""
    db.session.remove()
    db.engine.dispose()
    conn = sqlite3.connect(database, isolation_level=None)
    try:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0
    finally:
        conn.close()


def _remount(folder: Path, mode: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{mode}", str(folder)], check=True)


def _assert_clean_error(resp) -> None:  # type: ignore[no-untyped-def]
    assert resp.status_code == 500
    body = resp.get_data(as_text=True)
    assert "<html" in body and "Traceback" not in body and "sqlite" not in body.lower()


def test_a_full_then_read_only_disk_gives_the_error_page_and_the_app_recovers(small_disk, redis_url):
    app = create_app(base_config(f"sqlite:///{small_disk}/db.sqlite3", redis_url))
    with app.app_context():
        from flask_migrate import upgrade

        from onboarding.accounts.service import create_user
        from onboarding.orgs.service import add_member, ensure_default_organization

        upgrade()
        org = ensure_default_organization()
        add_member(org, create_user("a@example.com", password=PASSWORD))
        db.session.commit()
        _checkpoint(small_disk / "db.sqlite3")
        client = app.test_client()

        filler = _fill(small_disk)
        _assert_clean_error(login(client, "a@example.com"))  # a sign-in writes a session and an audit row
        assert client.get("/healthz").status_code == 200  # the process answers
        filler.unlink()
        assert login(client, "a@example.com").status_code == 303
        client.post("/auth/logout/")

        _checkpoint(small_disk / "db.sqlite3")
        _remount(small_disk, "ro")
        try:
            _assert_clean_error(login(client, "a@example.com"))
            assert client.get("/healthz").status_code == 200
        finally:
            _remount(small_disk, "rw")
        db.engine.dispose()
        assert login(client, "a@example.com").status_code == 303
        db.engine.dispose()
