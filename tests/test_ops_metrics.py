"""/metrics: who may read it, and that it shows sign-ins, invites, request latency, job timings,
queue depths and the outbox backlog — added up across processes in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pytest
from prometheus_client.parser import text_string_to_metric_families

from onboarding import metrics
from onboarding.extensions import db
from tests.factories import PASSWORD, login, make_user


def scrape(client, **kw) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics", **kw)
    assert resp.status_code == 200, resp.data
    assert resp.mimetype == "text/plain"
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_loopback_may_read_others_may_not(client):
    assert client.get("/metrics").status_code == 200
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    assert client.get("/metrics", environ_base=remote).status_code == 404
    # A local reverse proxy forwarding an outside visitor does not count as loopback.
    assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 404
    # No token configured: any bearer is refused.
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer x"}, environ_base=remote).status_code == 403
    )


@pytest.mark.parametrize("settings", [{"METRICS_TOKEN": "operator-secret"}])
def test_operator_token(client, settings):
    remote = {"REMOTE_ADDR": "203.0.113.9"}
    ok = client.get("/metrics", headers={"Authorization": "Bearer operator-secret"}, environ_base=remote)
    assert ok.status_code == 200
    bad = client.get("/metrics", headers={"Authorization": "Bearer operator-secreT"}, environ_base=remote)
    assert bad.status_code == 403


def test_sign_in_outcomes_invites_and_latency(app, client):
    make_user("a@example.com")
    before = scrape(client)
    assert login(client, "a@example.com", "wrong password!").status_code == 422
    assert (
        client.post("/auth/login/", data={"op": "login", "username": "", "password": ""}).status_code == 422
    )
    assert login(app.test_client(), "a@example.com", PASSWORD).status_code == 303
    metrics.invite_sent(2)
    metrics.invite_accepted()
    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("onboarding_sign_ins_total", outcome="failure") == 1
    assert delta("onboarding_sign_ins_total", outcome="invalid") == 1
    assert delta("onboarding_sign_ins_total", outcome="success") == 1
    assert delta("onboarding_invites_sent_total") == 2
    assert delta("onboarding_invites_accepted_total") == 1
    assert (
        delta(
            "onboarding_http_request_duration_seconds_count",
            endpoint="auth.login",
            method="POST",
            status="422",
        )
        == 2
    )


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_job_timings_queue_depths_and_failures(app, client, settings):
    from onboarding.queue import enqueue, run_worker

    before = scrape(client)
    enqueue("tests.ops_helpers.failing_job", 1, queue="files")
    enqueue("onboarding.tasks.post_process_error", 0, queue="files")  # finds nothing: succeeds
    mid = scrape(client)
    assert value(mid, "onboarding_queue_depth", queue="files") == 2
    assert value(mid, "onboarding_redis_up") == 1
    assert (
        value(mid, "onboarding_job_enqueue_seconds_count", queue="files")
        - value(before, "onboarding_job_enqueue_seconds_count", queue="files")
        == 2
    )
    run_worker(app, ["files"], burst=True)
    after = scrape(client)
    assert value(after, "onboarding_queue_depth", queue="files") == 0
    assert value(after, "onboarding_queue_jobs", queue="files", state="failed") == 1

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert delta("onboarding_job_duration_seconds_count", queue="files", status="finished") == 1
    assert delta("onboarding_job_duration_seconds_count", queue="files", status="failed") == 1
    assert delta("onboarding_job_failures_total", queue="files") == 1


def test_outbox_backlog(app, client):
    from onboarding.ops.status import outbox_backlog
    from onboarding.outbox.models import OutboxMessage

    assert outbox_backlog() == 0
    db.session.add_all(
        [OutboxMessage(category="email", payload={}), OutboxMessage(category="email", payload={})]
    )
    db.session.commit()
    assert outbox_backlog() == 2
    assert value(scrape(client), "onboarding_outbox_backlog") == 2


@pytest.mark.slow
def test_counts_add_up_across_processes(tmp_path, redis_url, database_url, _schema):
    """Two processes count, a third (another web process) serves the sum: multiprocess mode."""
    mdir = tmp_path / "prom"
    mdir.mkdir()
    env = {
        **os.environ,
        "PROMETHEUS_MULTIPROC_DIR": str(mdir),
        "ONBOARDING_DATABASE_URL": database_url,
        "ONBOARDING_REDIS_URL": redis_url,
        "ONBOARDING_SECRET_KEY": "x",
    }
    count = "from onboarding import metrics; metrics.invite_sent({n}); metrics.sign_in('success')"
    for n in (2, 3):
        subprocess.run([sys.executable, "-c", count.format(n=n)], env=env, check=True, timeout=60)
    serve = textwrap.dedent(
        """
        from onboarding import create_app
        app = create_app({"ERROR_CAPTURE": False})
        print(app.test_client().get("/metrics").get_data(as_text=True))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", serve], env=env, check=True, timeout=60, capture_output=True, text=True
    ).stdout
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(out)
        for s in fam.samples
    }
    assert samples[("onboarding_invites_sent_total", ())] == 5
    assert samples[("onboarding_sign_ins_total", (("outcome", "success"),))] == 2
