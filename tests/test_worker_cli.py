"""``onboarding worker``: a clear message when there is no Redis to work from; runs jobs when there is."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.serve_helpers import ONBOARDING, env_for

pytestmark = pytest.mark.slow


def _worker(instance: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ONBOARDING, "worker", "--burst", *args],
        env=env_for(instance, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_redis_is_one_clear_line(tmp_path: Path) -> None:
    result = _worker(tmp_path / "instance")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert lines[0].startswith("Error: cannot reach Redis at unix://")
    assert "ONBOARDING_REDIS_URL" in lines[0]


def test_password_never_printed(tmp_path: Path) -> None:
    result = _worker(tmp_path / "instance", ONBOARDING_REDIS_URL="redis://u:sekret@127.0.0.1:1/0")
    assert result.returncode == 1
    assert "sekret" not in result.stderr and "u:***@" in result.stderr


def test_unknown_queue(tmp_path: Path) -> None:
    result = _worker(tmp_path / "instance", "nope")
    assert result.returncode == 2
    assert "unknown queue(s): nope" in result.stderr


def test_burst_worker_runs_queued_job(tmp_path: Path, redis_url: str) -> None:
    """A job queued through the app is run by a separate worker process (mail to a file)."""
    from jinja2 import DictLoader

    from onboarding import create_app
    from onboarding.extensions import db
    from onboarding.outbox import mail

    instance = tmp_path / "instance"
    maildir = tmp_path / "mail"
    database_url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    env = {
        "ONBOARDING_REDIS_URL": redis_url,
        "ONBOARDING_MAIL_URL": f"file://{maildir}",
        "ONBOARDING_DATABASE_URL": database_url,
        "ONBOARDING_SECRET_KEY": "k",
    }
    app = create_app({"SECRET_KEY": "k", "REDIS_URL": redis_url, "DATABASE_URL": database_url})
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()  # mail goes through the outbox table
    app.jinja_env.loader = DictLoader(
        {
            "emails/t.subject.txt": "Hi {{ n }}",
            "emails/t.txt": "Hello {{ n }}",
            "emails/t.html": "<p>{{ n }}</p>",
        }
    )
    with app.test_request_context():
        mail.queue_email("ada@example.com", "t", n="Ada")
        db.session.commit()
    result = _worker(instance, "email", **env)
    assert result.returncode == 0, result.stderr
    files = list(maildir.glob("*.eml"))
    assert len(files) == 1
    assert "Subject: Hi Ada" in files[0].read_text()
