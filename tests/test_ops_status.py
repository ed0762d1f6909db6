"""/manage/status/: queues, workers, failed jobs (retry, delete), scheduled jobs, outbox, last flush."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import g
from rq import Queue
from rq.registry import FailedJobRegistry

from onboarding.extensions import utcnow
from onboarding.redisconn import get_redis
from tests.conftest import csrf_from, free_port
from tests.factories import login, make_user


@pytest.fixture
def settings():
    return {"JOBS_SYNC": False}


def _admin_client(app):
    make_user("root@example.com", superuser=True)
    client = app.test_client()
    assert login(client, "root@example.com").status_code == 303
    return client


def _fail_one(app):
    from onboarding.queue import enqueue, run_worker

    job = enqueue("tests.ops_helpers.failing_job", 5, queue="files")
    run_worker(app, ["files"], burst=True)
    return job


def test_page_shows_queues_failed_and_scheduled_jobs(app):
    client = _admin_client(app)
    failed = _fail_one(app)
    Queue("email", connection=get_redis()).enqueue_at(
        utcnow() + timedelta(hours=1), "onboarding.tasks.send_email"
    )
    Queue("default", connection=get_redis()).enqueue("onboarding.tasks.post_process_error", 1)
    get_redis().set("buffer:last_flush", "0")

    page = client.get("/manage/status/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'hx-trigger="every 5s"' in html
    assert f'data-job="{failed.id}"' in html
    assert "ReportFailure: report 5 could not be built" in html
    assert "tests.ops_helpers.failing_job" in html
    assert "onboarding.tasks.send_email" in html  # scheduled
    assert '<tr data-queue="default"><th scope="row">default</th><td>1</td>' in html
    assert "1970-01-01 00:00:00 UTC" in html  # last counter flush
    assert '<dd id="outbox-backlog">0</dd>' in html

    # htmx polling gets the fragment only, which polls again.
    frag = client.get("/manage/status/", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert frag.lstrip().startswith('<div id="status-body"') and "<html" not in frag


def test_last_flush_never_and_no_failed_jobs(app):
    client = _admin_client(app)
    html = client.get("/manage/status/").get_data(as_text=True)
    assert '<dd id="last-flush">never</dd>' in html
    assert "No failed jobs." in html
    assert "No worker is running" in html


def test_retry_and_delete_failed_jobs(app):
    client = _admin_client(app)
    job = _fail_one(app)
    registry = FailedJobRegistry(queue=Queue("files", connection=get_redis()))
    assert job.id in registry.get_job_ids()

    resp = client.post(f"/manage/status/jobs/files/{job.id}/retry/")
    assert resp.status_code == 303
    assert job.id not in registry.get_job_ids()
    assert job.id in Queue("files", connection=get_redis()).get_job_ids()

    job2 = _fail_one(app)  # the retried one fails again too
    assert set(registry.get_job_ids()) == {job.id, job2.id}
    assert client.post(f"/manage/status/jobs/files/{job2.id}/delete/").status_code == 303
    assert registry.get_job_ids() == [job.id]
    assert get_redis().exists(f"rq:job:{job2.id}") == 0
    # Gone, unknown queue, GET: refused.
    assert client.post(f"/manage/status/jobs/files/{job2.id}/delete/").status_code == 404
    assert client.post(f"/manage/status/jobs/nope/{job.id}/retry/").status_code == 404
    assert client.get(f"/manage/status/jobs/files/{job.id}/retry/").status_code == 405


def test_buttons_need_csrf(app):
    app.config["WTF_CSRF_ENABLED"] = True
    make_user("root@example.com", superuser=True)
    client = app.test_client()
    page = client.get("/auth/login/")
    token = csrf_from(page.get_data(as_text=True))
    client.post(
        "/auth/login/",
        data={
            "op": "login",
            "username": "root@example.com",
            "password": "correct horse battery staple",
            "csrf_token": token,
        },
    )
    job = _fail_one(app)
    assert client.post(f"/manage/status/jobs/files/{job.id}/delete/").status_code == 400
    # The test keeps one app context across requests, so Flask-WTF's per-request token cache in `g`
    # would outlive the session rotation at sign-in; production pushes a context per request.
    g.pop("csrf_token", None)
    html = client.get("/manage/status/").get_data(as_text=True)
    token = csrf_from(html)
    assert 'name="csrf_token"' in html
    r = client.post(f"/manage/status/jobs/files/{job.id}/delete/", data={"csrf_token": token})
    assert r.status_code == 303, r.get_data(as_text=True)


def test_superusers_only(app):
    make_user("plain@example.com")
    client = app.test_client()
    assert client.get("/manage/status/").status_code == 302
    login(client, "plain@example.com")
    assert client.get("/manage/status/").status_code == 403
    assert client.post("/manage/status/jobs/files/x/delete/").status_code == 403


def test_redis_down_still_renders(app):
    client = _admin_client(app)
    app.config["REDIS_URL"] = f"redis://127.0.0.1:{free_port()}/0"
    resp = client.get("/manage/status/")
    assert resp.status_code == 200
    assert "Redis is unreachable" in resp.get_data(as_text=True)
