"""Logs: JSON lines with request id and job id when configured; request ids echoed; tokens masked."""

from __future__ import annotations

import io
import json
import logging

import pytest

from onboarding import create_app, logs
from onboarding.config import ConfigError
from tests.conftest import base_config


@pytest.fixture
def json_lines(monkeypatch):
    """Root logging goes to one in-memory handler for the test; returns a reader of parsed lines."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    monkeypatch.setattr(logging.root, "handlers", [handler])
    old_level = logging.root.level
    logging.root.setLevel(logging.INFO)  # setLevel, not assignment: loggers cache their levels

    def read() -> list[dict]:
        return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]

    yield read
    logging.root.setLevel(old_level)


def test_request_id_is_echoed_or_generated(client):
    resp = client.get("/healthz", headers={"X-Request-ID": "req-42.a:b"})
    assert resp.headers["X-Request-ID"] == "req-42.a:b"
    generated = client.get("/healthz").headers["X-Request-ID"]
    assert len(generated) == 32
    bad = client.get("/healthz", headers={"X-Request-ID": "x" * 200}).headers["X-Request-ID"]
    assert bad != "x" * 200 and len(bad) == 32
    evil = client.get("/healthz", headers={"X-Request-ID": "a\x00b c"}).headers["X-Request-ID"]
    assert evil != "a\x00b c"


def test_json_lines_with_request_id_and_masked_tokens(json_lines, database_url, redis_url, _schema):
    app = create_app(base_config(database_url, redis_url, LOG_FORMAT="json", ACCESS_LOG=True))

    def boom(member_id: int, token: str):
        raise RuntimeError("failed while accepting")

    app.add_url_rule("/t/accept/<int:member_id>/<token>/", "boom", boom)
    client = app.test_client()
    with app.app_context():
        resp = client.get("/t/accept/3/TopSecretToken123/", headers={"X-Request-ID": "rid-1"})
    assert resp.status_code == 500 and resp.headers["X-Request-ID"] == "rid-1"
    lines = json_lines()
    assert lines, "nothing was logged"
    mine = [entry for entry in lines if entry["request_id"] == "rid-1"]
    error = next(e for e in mine if e["logger"] == "onboarding.web.errors")
    assert error["level"] == "ERROR"
    assert error["message"] == "Unhandled error on GET /t/accept/3/…/"
    assert "RuntimeError: failed while accepting" in error["exception"]
    access = next(e for e in mine if e["logger"] == "onboarding.access")
    assert access["path"] == "/t/accept/3/…/" and access["status"] == 500 and access["method"] == "GET"
    assert "TopSecretToken123" not in json.dumps(lines)
    assert {"time", "level", "logger", "message", "request_id", "job_id"} <= set(error)


def test_json_lines_carry_the_job_id(json_lines, database_url, redis_url, _schema):
    from onboarding.queue import enqueue, run_worker

    app = create_app(base_config(database_url, redis_url, LOG_FORMAT="json", JOBS_SYNC=False))
    with app.app_context():
        job = enqueue("tests.ops_helpers.logging_job", 9, queue="default")
        run_worker(app, ["default"], burst=True)
    entry = next(e for e in json_lines() if e["logger"] == "onboarding.reports")
    assert entry["message"] == "building report 9"
    assert entry["job_id"] == job.id
    assert entry["request_id"] is None
    # rq's own report of a failure carries the job id too.
    with app.app_context():
        failed = enqueue("tests.ops_helpers.failing_job", 1, queue="default")
        run_worker(app, ["default"], burst=True)
    report = next(e for e in json_lines() if e["logger"] == "rq.worker" and e["level"] == "ERROR")
    assert report["job_id"] == failed.id


def test_bad_log_format_is_refused(database_url, redis_url):
    with pytest.raises(ConfigError, match="ONBOARDING_LOG_FORMAT must be text or json"):
        create_app(base_config(database_url, redis_url, LOG_FORMAT="xml"))


def test_text_format_masks_tokens_too(caplog):
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "GET %s", ("/accept/1/abcdef/",), None)
    assert logs.ContextFilter().filter(record)
    assert record.getMessage() == "GET /accept/1/…/"
