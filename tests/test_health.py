"""/healthz answers whenever the process does; /readyz only when the database and Redis answer."""

from __future__ import annotations

import time

import pytest

from onboarding import create_app
from tests.conftest import base_config, free_port
from tests.factories import login, make_user


def test_both_ok(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    resp = client.get("/readyz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok"}}


@pytest.mark.parametrize("settings", [{"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}])
def test_redis_down(client, settings):
    assert client.get("/healthz").status_code == 200
    start = time.monotonic()
    resp = client.get("/readyz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"].startswith("error: ")
    assert time.monotonic() - start < 5  # fails fast instead of hanging the load balancer


def test_database_down(tmp_path, redis_url):
    app = create_app(base_config(f"sqlite:///{tmp_path}/missing-dir/nope/db.sqlite3", redis_url))
    client = app.test_client()
    assert client.get("/healthz").status_code == 200
    resp = client.get("/readyz")
    assert resp.status_code == 503
    assert resp.get_json()["checks"]["database"].startswith("error: ")
    assert resp.get_json()["checks"]["redis"] == "ok"


def test_health_needs_no_csrf_or_session(client):
    resp = client.get("/readyz")
    assert "Set-Cookie" not in resp.headers


def test_the_app_recovers_when_postgresql_drops_its_connections(app, client, database_url):
    """SECURITY.md: after a PostgreSQL restart the app recovers without being restarted. A restart ends
    every connection in the pool; here they are ended from the server side, then each checkout's
    pre-ping finds them dead and opens new ones, so the next requests succeed."""
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only (CI runs the suite against it)")
    import psycopg
    from sqlalchemy.engine import make_url

    from onboarding.extensions import db

    make_user("a@example.com")
    for _ in range(3):  # warm the pool
        assert client.get("/readyz").status_code == 200
    db.session.rollback()
    pooled = db.engine.pool.checkedin()
    assert pooled >= 1
    # From outside the app's pool, as a restart would: end every connection to this database.
    with psycopg.connect(
        make_url(database_url).set(drivername="postgresql").render_as_string(False)
    ) as admin:
        ended = admin.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]
    assert ended >= pooled
    db.session.remove()
    for _ in range(5):
        assert client.get("/readyz").status_code == 200
    assert login(client, "a@example.com").status_code == 303
