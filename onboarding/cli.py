"""The ``onboarding`` command: a Flask CLI group on the app factory, plus serve, worker and createuser."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from onboarding.config import ROOT, ConfigError

SERVE_WORKERS = 2  # web processes
SERVE_THREADS = 4  # threads per web process


def upgrade_database() -> None:
    """Apply migrations and make sure the default organization exists (single-organization mode)."""
    from flask_migrate import upgrade

    from onboarding.extensions import db
    from onboarding.orgs.service import ensure_default_organization

    db.session.commit()  # migrations run on their own connection; hold no lock against them
    upgrade()
    ensure_default_organization()
    db.session.commit()


def _create_app(*_: Any) -> Any:
    from onboarding import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """Onboarding: sign-up, sign-in and organization invitations."""


@cli.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option(
    "--workers", default=SERVE_WORKERS, show_default=True, type=click.IntRange(1, 64), help="web processes"
)
@click.option(
    "--threads",
    default=SERVE_THREADS,
    show_default=True,
    type=click.IntRange(1, 64),
    help="threads per process",
)
@with_appcontext
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Migrate, then run the web server, one job worker and (when no Redis URL is set) an embedded Redis."""
    from onboarding import embedded_redis
    from onboarding.extensions import db
    from onboarding.setup import service as setup

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    upgrade_database()
    env = os.environ.copy()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only for the printed URL
    url = f"http://{shown_host}:{port}"
    # The configured base URL (environment or instance/config.py) wins; else the address we listen on.
    base_url = str(app.config.get("BASE_URL") or url).rstrip("/")
    if not app.config.get("BASE_URL"):
        env["ONBOARDING_BASE_URL"] = url
        if shown_host != host:  # on every interface, with no base URL to name the site: any Host header
            env.setdefault("ONBOARDING_ALLOWED_HOSTS", "*")
    # Metrics from every web process and the worker, added up at scrape time (onboarding.metrics).
    metrics_dir = Path(app.instance_path) / "prometheus"
    shutil.rmtree(metrics_dir, ignore_errors=True)
    metrics_dir.mkdir(parents=True)
    env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    if not app.config.get("SECRET_KEY"):
        raise click.ClickException("no secret key")  # pragma: no cover - config always sets one

    children: list[tuple[str, subprocess.Popen[bytes]]] = []

    def stop_all(*_: Any) -> None:
        # Web first (no new work), then the worker (finishes its job), Redis last.
        for name, proc in reversed(children):
            if proc.poll() is None:
                proc.terminate()
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                click.echo(f"{name} did not stop in time; killing it", err=True)
                proc.kill()
                proc.wait()

    def on_signal(signum: int, _frame: Any) -> None:
        click.echo("Stopping…")
        stop_all()
        sys.exit(0)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if not app.config.get("REDIS_URL"):
            children.append(("redis", embedded_redis.start(app.instance_path)))
            env["ONBOARDING_REDIS_URL"] = embedded_redis.socket_url(app.instance_path)
        children.append(
            (
                "worker",
                subprocess.Popen(
                    [sys.executable, "-m", "onboarding.cli", "worker"], env=env, start_new_session=True
                ),
            )
        )
        # The app writes the access lines (request id, invite tokens masked, JSON when configured),
        # not gunicorn, whose access log would show raw paths.
        env.setdefault("ONBOARDING_ACCESS_LOG", "true")
        gunicorn = gunicorn_command(host, port, workers=workers, threads=threads)
        children.append(("web", subprocess.Popen(gunicorn, env=env, start_new_session=True)))
        _wait_ready(url, children)
        if setup.needs_setup():
            token = setup.issue_token()
            db.session.commit()
            click.echo(f"No administrator yet. Create one at: {base_url}/setup/{token}/")
        # End this process's transaction whichever way the check went: on SQLite it began IMMEDIATE
        # (CLI commands mean to write), and an open one would hold the write lock for as long as serve runs.
        db.session.remove()
        click.echo(f"Onboarding is running at {url}/ (Ctrl-C to stop)")
        while True:
            for name, proc in children:
                if proc.poll() is not None:
                    click.echo(f"{name} exited with code {proc.returncode}; stopping", err=True)
                    stop_all()
                    sys.exit(1)
            time.sleep(0.5)
    except BaseException:
        stop_all()
        raise


def gunicorn_command(host: str, port: int, *, workers: int, threads: int) -> list[str]:
    """The web server as ``serve`` runs it (the benchmark runs the very same command)."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--bind",
        f"{host}:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--worker-class",
        "gthread",
        "--chdir",
        str(ROOT),
        "--graceful-timeout",
        "10",
        # gunicorn 23+ opens a control socket in $HOME by default: one per user, so a second
        # instance would take over the first one's. serve does not use it.
        "--no-control-socket",
        # Above the app's own limits (onboarding.web.security), so a long request line or header gets
        # the app's error page with its security headers; past these, gunicorn answers 400/414 itself.
        "--limit-request-line",
        "8190",
        "--limit-request-field_size",
        "16380",
        "app:app",
    ]


def _wait_ready(url: str, children: list[tuple[str, subprocess.Popen[bytes]]], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for name, proc in children:
            if proc.poll() is not None:
                raise click.ClickException(f"{name} exited with code {proc.returncode} during start-up")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=1) as resp:  # noqa: S310 - our own server
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise click.ClickException(f"the web server did not answer on {url} within {timeout:.0f}s")


@cli.command("worker")
@click.option("--burst", is_flag=True, help="Quit when the queues are empty.")
@click.argument("queues", nargs=-1)
def worker(burst: bool, queues: tuple[str, ...]) -> None:
    """Run a job worker (all queues unless some are named)."""
    from onboarding import create_app
    from onboarding.queue import QUEUES, run_worker

    unknown = [q for q in queues if q not in QUEUES]
    if unknown:
        raise click.BadParameter(f"unknown queue(s): {', '.join(unknown)}; known: {', '.join(QUEUES)}")
    app = create_app()
    with app.app_context():
        from redis.exceptions import RedisError

        from onboarding.redisconn import get_redis, redis_url

        try:
            get_redis().ping()
        except RedisError as exc:
            where = redis_url()
            hint = (
                ""
                if app.config.get("REDIS_URL")
                else " (set ONBOARDING_REDIS_URL, or run `onboarding serve`)"
            )
            raise click.ClickException(f"cannot reach Redis at {_safe_url(where)}{hint}: {exc}") from None
    from onboarding.tasks import sweep

    # The outbox sweep, counter flush and hourly clean-up, from every worker's own loop.
    run_worker(app, queues or QUEUES, burst=burst, periodic=sweep)


def _safe_url(url: str) -> str:
    """``url`` without its password, for messages."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


@cli.command("createuser")
@click.option("--email", "emails", multiple=True, help="Repeat to create several users.")
@click.option("--org-id", type=int, default=None, help="Organization to join (single-organization mode).")
@click.option("--password", default=None)
@click.option("--superuser/--no-superuser", default=None, is_flag=True)
@click.option("--staff/--no-staff", default=None, is_flag=True)
@click.option("--no-password", is_flag=True, default=False)
@click.option("--no-input", is_flag=True, default=False)
@click.option("--force-update", is_flag=True, default=False)
@with_appcontext
def createuser(
    emails: tuple[str, ...],
    org_id: int | None,
    password: str | None,
    superuser: bool | None,
    staff: bool | None,
    no_password: bool,
    no_input: bool,
    force_update: bool,
) -> None:
    """Create a new user (behaves like Sentry's createuser)."""
    from onboarding.accounts.createuser import run
    from onboarding.database import write_intent

    with write_intent(True):
        upgrade_database()
        run(
            list(emails),
            org_id=org_id,
            password=password,
            superuser=superuser,
            staff=staff,
            no_password=no_password,
            no_input=no_input,
            force_update=force_update,
        )


@cli.command("maintenance")
@with_appcontext
def maintenance_now() -> None:
    """Run the hourly clean-up now: unused files, stalled avatar uploads, long-expired invites."""
    from onboarding import maintenance

    click.echo(maintenance.run().describe())


@cli.group("outbox")
def outbox() -> None:
    """The outbox of signals and emails."""


@outbox.command("drain")
@with_appcontext
def outbox_drain() -> None:
    """Deliver every due message now (for cron, or after an outage)."""
    from onboarding.outbox.service import backlog, drain_due

    delivered = drain_due(limit=100_000)
    click.echo(f"Delivered {delivered} message(s); {backlog()} waiting.")


@outbox.command("status")
@with_appcontext
def outbox_status() -> None:
    """How many messages wait, and the oldest error."""
    from sqlalchemy import select

    from onboarding.extensions import db
    from onboarding.outbox.models import OutboxMessage

    rows = list(db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id).limit(20)))
    click.echo(f"{len(rows)} message(s) waiting (first 20 shown)")
    for row in rows:
        click.echo(
            f"#{row.id} {row.category} attempts={row.attempts} next={row.scheduled_for:%Y-%m-%d %H:%M:%S} {row.last_error or ''}"
        )


def main() -> None:
    try:
        cli.main(prog_name="onboarding")
    except ConfigError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
