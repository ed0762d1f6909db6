"""/healthz answers whenever the process does; /readyz only when the database and Redis answer."""

from __future__ import annotations

import time

import pytest

from onboarding import create_app
from tests.conftest import base_config, free_port


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
