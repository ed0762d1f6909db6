"""The ``onboarding`` command: a Flask CLI group on the app factory, plus serve, worker and createuser."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import FlaskGroup, with_appcontext

from onboarding.config import ROOT, ConfigError

SERVE_WORKERS = 2  # web processes
SERVE_THREADS = 4  # threads per web process


def upgrade_database() -> None:
    """Apply migrations and make sure the default organization exists (single-organization mode).

    Quiet: one line when migrations were applied, none when the schema was up to date."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from onboarding.extensions import db
    from onboarding.orgs.service import ensure_default_organization

    db.session.commit()  # migrations run on their own connection; hold no lock against them
    config = current_app.extensions["migrate"].migrate.get_config()
    config.config_file_name = None  # no logging set-up from alembic.ini, and none of its INFO lines:
    logging.getLogger("alembic").setLevel(logging.WARNING)
    script = ScriptDirectory.from_config(config)
    with db.engine.connect() as connection:
        current = set(MigrationContext.configure(connection).get_current_heads())
    heads = set(script.get_heads())
    if current != heads:
        pending = len(list(script.iterate_revisions(tuple(heads), tuple(current) or "base")))
        command.upgrade(config, "heads")
        click.echo(
            f"Database schema upgraded ({pending} migration(s) applied; now at {', '.join(sorted(heads))})."
        )
    ensure_default_organization()
    db.session.commit()


def _create_app(*_: Any) -> Any:
    from onboarding import create_app

    return create_app()


@click.group(cls=FlaskGroup, create_app=_create_app, add_version_option=False, load_dotenv=False)
def cli() -> None:
    """Onboarding: sign-up, sign-in and organization invitations."""


def _dotenv_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec("dotenv") is not None


if not _dotenv_installed():  # Flask's --env-file needs python-dotenv: do not offer what cannot work
    cli.params = [p for p in cli.params if p.name != "env_file"]


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
    from onboarding import serve as serving
    from onboarding.extensions import db
    from onboarding.processes import child_preexec
    from onboarding.setup import service as setup

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    env = os.environ.copy()
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104 - only for the printed URL
    url = f"http://{shown_host}:{port}"
    # Before anything else: a second serve on this folder must change nothing of the first one's.
    lock = serving.take_instance_lock(app.instance_path, f"{url}/")
    upgrade_database()
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

    supervisor = serving.Supervisor()
    serving.install_stop_signals(supervisor)
    try:
        if not app.config.get("REDIS_URL"):
            try:
                supervisor.add(
                    serving.REDIS,
                    lambda: embedded_redis.start(app.instance_path, preexec_fn=child_preexec()),
                )
            except embedded_redis.AlreadyRunning as exc:
                raise click.ClickException(f"{exc}; is another Onboarding running on this folder?") from None
            env["ONBOARDING_REDIS_URL"] = embedded_redis.socket_url(app.instance_path)
        worker_command = [sys.executable, "-m", "onboarding.cli", "worker"]
        supervisor.add(
            "job worker",
            lambda: subprocess.Popen(
                worker_command, env=env, start_new_session=True, preexec_fn=child_preexec()
            ),
        )
        # The app writes the access lines (request id, invite tokens masked, JSON when configured),
        # not gunicorn, whose access log would show raw paths.
        env.setdefault("ONBOARDING_ACCESS_LOG", "true")
        gunicorn = gunicorn_command(host, port, workers=workers, threads=threads)
        supervisor.add("web server", lambda: serving.start_web(gunicorn, env, processes=workers, url=url))
        from onboarding.mail import where_mail_goes

        if where := where_mail_goes():
            serving.say(f"Email is {where}.")
        serving.say(
            f"Onboarding is running at {url}/ ({workers} web process{'es' if workers > 1 else ''}, "
            "1 job worker; Ctrl-C to stop)"
        )
        if setup.needs_setup():
            serving.say(f"No administrator yet. Create one at: {base_url}/setup/{setup.issue_token()}/")
            db.session.commit()
        # End this process's transaction whichever way the check went: on SQLite it began IMMEDIATE
        # (CLI commands mean to write), and an open one would hold the write lock for as long as serve runs.
        db.session.remove()
        sys.stdout.flush()
        while True:
            supervisor.check()
            time.sleep(0.5)
    except serving.Stop:
        serving.say("Stopping…")
    finally:
        supervisor.stop_all()
        lock.release()


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
        # Hooks: web processes die with their master; serve learns when the port is really ours.
        "--config",
        "python:onboarding.gunicorn_hooks",
        # Its start-up lines say nothing serve does not; warnings and errors still show.
        "--log-level",
        "warning",
        "app:app",
    ]


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


@cli.command("setup-link")
@with_appcontext
def setup_link() -> None:
    """Print a new one-time link that creates the first administrator (the previous link stops working)."""
    from onboarding import serve as serving
    from onboarding.database import write_intent
    from onboarding.extensions import db
    from onboarding.setup import service as setup

    with write_intent(True):
        upgrade_database()
        if not setup.needs_setup():
            db.session.rollback()
            click.echo(
                "An administrator exists already, so there is no setup link: sign in, or add one with "
                "`onboarding createuser --superuser`.",
                err=True,
            )
            sys.exit(1)
        token = setup.issue_token()
        db.session.commit()
    base = current_app.config.get("BASE_URL") or serving.running_url(current_app.instance_path)
    base = str(base or "http://127.0.0.1:5000").rstrip("/")
    click.echo(f"No administrator yet. Create one at: {base}/setup/{token}/")


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
