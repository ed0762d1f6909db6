"""Captured errors: a failing view and a failing job both land in /manage/errors/, grouped, scrubbed,
with release and environment; superusers get one email per new issue."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from onboarding import (
    __version__,
    buffer,  # noqa: E402
)
from onboarding.extensions import db
from onboarding.ops import events
from onboarding.ops.models import ErrorEnvironment, ErrorEvent, ErrorIssue, ErrorRelease
from tests.factories import login, make_user
from tests.ops_helpers import mails

INVITE_TOKEN = "s3cretInviteToken0123456789abcdef"


@pytest.fixture
def settings(tmp_path):
    return {"MAIL_URL": f"file://{tmp_path / 'mail'}", "ENVIRONMENT": "staging"}


def _add_failing_view(app):
    def boom(member_id: int, token: str):
        from flask_login import current_user

        if current_user.is_authenticated:  # like real flows, the view knows its user before failing
            pass
        raise ZeroDivisionError("division by zero in the accept flow")

    app.add_url_rule("/test-boom/accept/<int:member_id>/<token>/", "boom", boom, methods=["GET", "POST"])


def test_view_error_is_stored_grouped_and_scrubbed(app, tmp_path):
    _add_failing_view(app)
    admin = make_user("root@example.com", superuser=True)
    client = app.test_client()
    assert login(client, admin.email).status_code == 303
    for _ in range(2):
        resp = client.post(
            f"/test-boom/accept/7/{INVITE_TOKEN}/?token={INVITE_TOKEN}",
            data={"password": "hunter2-very-secret", "name": "x"},
            headers={"Authorization": "Bearer abc.def.ghi", "X-Api-Key": "k-123"},
        )
        assert resp.status_code == 500
        assert b"It has been recorded" in resp.data

    buffer.flush()  # the second event was counted through the buffer (the worker flushes every 5 s)
    issue = db.session.scalars(select(ErrorIssue)).one()
    assert issue.times_seen == 2
    assert issue.title.startswith("ZeroDivisionError: division by zero")
    assert issue.first_seen <= issue.last_seen
    evs = db.session.scalars(select(ErrorEvent).order_by(ErrorEvent.id)).all()
    assert len(evs) == 2
    ev = evs[0]
    assert ev.release.version == f"onboarding@{__version__}"
    assert ev.environment.name == "staging"
    assert ev.exception_type == "ZeroDivisionError"
    assert ev.request_method == "POST"
    assert ev.request_path.startswith("/test-boom/accept/7/…/")
    assert ev.user_id == admin.id
    assert any(f["function"] == "boom" for f in ev.frames)
    # No secret anywhere in what was stored.
    stored = repr([(e.message, e.request_path, e.tags, e.frames, e.exception_value) for e in evs])
    for secret in (INVITE_TOKEN, "hunter2-very-secret", "abc.def.ghi", "k-123"):
        assert secret not in stored
    # Release and environment have their own rows, one each.
    assert db.session.scalars(select(ErrorRelease)).one().version == f"onboarding@{__version__}"
    assert [e.name for e in db.session.scalars(select(ErrorEnvironment))] == ["staging"]

    # One email to the superuser about the new issue, not one per event.
    sent = mails(tmp_path / "mail")
    assert len(sent) == 1
    assert sent[0]["To"] == "root@example.com"
    assert "ZeroDivisionError" in sent[0]["Subject"]
    assert INVITE_TOKEN not in sent[0].as_string()

    page = client.get("/manage/errors/")
    assert page.status_code == 200
    assert b"ZeroDivisionError" in page.data
    detail = client.get(f"/manage/errors/{issue.id}/")
    assert detail.status_code == 200
    text = detail.get_data(as_text=True)
    assert f"onboarding@{__version__}" in text and "staging" in text
    assert "/test-boom/accept/7/…/" in text
    assert INVITE_TOKEN not in text


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}], indirect=False)
def test_failing_job_is_stored_with_job_id(app, tmp_path, settings):
    from onboarding.queue import enqueue, run_worker

    make_user("root@example.com", superuser=True)
    jobs = [enqueue("tests.ops_helpers.failing_job", n, queue="default") for n in (1, 2)]
    run_worker(app, ["default", "events", "email"], burst=True)

    buffer.flush()
    db.session.rollback()
    issue = db.session.scalars(select(ErrorIssue)).one()
    assert issue.times_seen == 2
    assert issue.title.startswith("ReportFailure: report")
    evs = db.session.scalars(select(ErrorEvent).order_by(ErrorEvent.id)).all()
    assert {e.job_id for e in evs} == {j.id for j in jobs if j is not None}
    assert all(e.release.version == f"onboarding@{__version__}" for e in evs)
    assert all(e.environment.name == "production" for e in evs)
    assert evs[0].tags.get("job_id") == evs[0].job_id
    assert issue.notified_at is not None


def test_view_and_job_errors_both_listed(app, tmp_path):
    """The done-means check: one view error and one job error, side by side at /manage/errors/."""
    from onboarding.queue import enqueue, run_worker

    _add_failing_view(app)
    admin = make_user("root@example.com", superuser=True)
    client = app.test_client()
    login(client, admin.email)
    assert client.get("/test-boom/accept/1/tok/").status_code == 500
    app.config["JOBS_SYNC"] = False
    enqueue("tests.ops_helpers.failing_job", 3, queue="default")
    run_worker(app, ["default", "events", "email"], burst=True)

    page = client.get("/manage/errors/").get_data(as_text=True)
    assert "ZeroDivisionError" in page and "ReportFailure" in page
    rows = page.split("<tbody>")[1].split("</tr>")[:2]
    for row in rows:  # each issue with its release and environment
        assert f"<td>onboarding@{__version__}</td>" in row and "<td>staging</td>" in row
    assert db.session.scalar(select(db.func.count()).select_from(ErrorIssue)) == 2
    assert len(mails(tmp_path / "mail")) == 2


def test_manage_errors_is_for_superusers_only(app):
    make_user("plain@example.com")
    client = app.test_client()
    assert client.get("/manage/errors/").status_code == 302  # to sign-in
    login(client, "plain@example.com")
    assert client.get("/manage/errors/").status_code == 403
    assert client.get("/manage/errors/999/").status_code == 403


TOKEN_PATHS = [
    ("/accept/12/S3cretTok/", "/accept/12/…/"),
    ("/api/0/accept-invite/12/S3cretTok/", "/api/0/accept-invite/12/…/"),
    ("/account/recover/confirm/3/S3cretTok/", "/account/recover/confirm/3/…/"),
    ("/account/confirm-email/3/S3cretTok/", "/account/confirm-email/3/…/"),
    ("/account/change-email/3/S3cretTok/", "/account/change-email/3/…/"),
    ("/setup/S3cretTok/", "/setup/…/"),
]


@pytest.mark.parametrize(("path", "masked"), TOKEN_PATHS)
def test_every_token_path_is_masked_in_captured_errors_and_logs(path, masked):
    """One list of token-carrying paths serves captured errors, log lines and the access log."""
    from onboarding.web import logmask

    assert events.scrub_text(f"GET {path}?x=1") == f"GET {masked}?x=1"
    assert logmask.mask(f"GET {path} 500") == f"GET {masked} 500"
    assert logmask.has_token(path)


def test_grouping_and_scrubbing_units():
    assert events.scrub_text("GET /accept/12/abcDEF123/?x=1") == "GET /accept/12/…/?x=1"
    assert events.scrub_text("/account/recover/confirm/3/tok-en/") == "/account/recover/confirm/3/…/"
    assert (
        events.scrub_text("a=1&token=abc&next=/x&password=p w")
        == "a=1&token=[Filtered]&next=/x&password=[Filtered] w"
    )
    assert events.scrub_text("?invite_token=zz") == "?invite_token=[Filtered]"
    assert events.scrub({"headers": {"Authorization": "Bearer x", "Cookie": "a=b", "Accept": "*/*"}}) == {
        "headers": {"Authorization": "[Filtered]", "Cookie": "[Filtered]", "Accept": "*/*"}
    }
    base = {"event_id": "a" * 32, "exception": {"values": [{"type": "KeyError", "value": "'x'"}]}}
    a = events.normalise({**base, "message": ""})
    b = events.normalise({**base, "exception": {"values": [{"type": "ValueError", "value": "x"}]}})
    assert events.fingerprint(a) != events.fingerprint(b)
    m1 = events.normalise({"event_id": "b" * 32, "message": "user 12 failed"})
    m2 = events.normalise({"event_id": "c" * 32, "message": "user 99 failed"})
    assert events.fingerprint(m1) == events.fingerprint(m2)


def test_events_also_go_to_sentry_when_a_dsn_is_set(tmp_path, database_url, redis_url, _schema):
    """With ONBOARDING_SENTRY_DSN the same (scrubbed) event is stored here and sent to that Sentry."""
    import gzip
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import sentry_sdk

    from onboarding import create_app
    from tests.conftest import base_config

    received: list[bytes] = []

    class FakeSentry(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            elif self.headers.get("Content-Encoding") == "br":  # sentry-sdk's choice once brotli is installed
                import brotli

                body = brotli.decompress(body)
            received.append(body)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeSentry)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        dsn = f"http://publickey@127.0.0.1:{server.server_port}/1"
        app = create_app(base_config(database_url, redis_url, SENTRY_DSN=dsn, MAIL_URL=f"file://{tmp_path}"))
        _add_failing_view(app)
        with app.app_context():
            assert app.test_client().get(f"/test-boom/accept/2/{INVITE_TOKEN}/").status_code == 500
            sentry_sdk.flush(timeout=10)
            stored = db.session.scalars(
                select(ErrorEvent).where(ErrorEvent.request_path == "/test-boom/accept/2/…/")
            ).all()
            assert [e.exception_type for e in stored][-1:] == ["ZeroDivisionError"]
    finally:
        server.shutdown()
        create_app(base_config(database_url, redis_url))  # back to the local-only client
    payload = b"".join(received)
    assert b"ZeroDivisionError" in payload
    assert b"/test-boom/accept/2/\xe2\x80\xa6/" in payload or b"/test-boom/accept/2/\\u2026/" in payload
    assert INVITE_TOKEN.encode() not in payload


def test_failed_after_commit_callback_is_captured(app):
    from onboarding.database import on_commit

    def enqueue_follow_up():
        raise ConnectionError("queue unreachable after commit")

    on_commit(enqueue_follow_up)
    db.session.commit()
    issue = db.session.scalars(select(ErrorIssue).where(ErrorIssue.title.like("ConnectionError%"))).one()
    assert issue.title == "ConnectionError: queue unreachable after commit"
