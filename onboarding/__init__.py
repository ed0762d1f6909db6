"""Onboarding: sign-up, sign-in and organization invitations."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask

from onboarding import config
from onboarding.extensions import csrf, db, login_manager
from onboarding.version import __version__

__all__ = ["__version__", "create_app"]
MIGRATIONS = str(Path(__file__).parent / "migrations")


def create_app(test_config: dict[str, Any] | None = None, *, web: bool = False) -> Flask:
    """The app. ``web=True`` (a web process, ``app.py``) leaves out what only commands use (migrations)."""
    app = Flask(
        __name__,
        instance_path=str(config.instance_path()),
        instance_relative_config=True,
        static_folder=str(config.ROOT / "static"),
        template_folder=str(config.ROOT / "templates"),
    )
    config.load(app, test_config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Alembic's INFO lines (plugins loaded, migration context) say nothing to an operator; `onboarding db …`
    # turns them back on (its alembic.ini logging set-up).
    logging.getLogger("alembic").setLevel(logging.WARNING)

    from onboarding.database import engine_options

    app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", engine_options(app.config["SQLALCHEMY_DATABASE_URI"]))
    db.init_app(app)
    if not web:
        # Alembic (with Mako and Pygments) costs a web process ~1 s of start-up and ~15 MB; it migrates
        # from commands and tests only.
        from flask_migrate import Migrate

        Migrate(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)

    from onboarding.web import confirm, converters, errors, htmx, humanize, nav, security, sessions

    converters.init_app(app)  # before any blueprint adds a rule
    htmx.init_app(app)  # request.htmx
    security.init_app(app)
    errors.init_app(app)
    nav.init_app(app)
    confirm.init_app(app)
    humanize.init_app(app)
    from onboarding.accounts.service import load_session_user, touch_session

    sessions.init_app(app, login_manager, load_user=load_session_user, touch=touch_session)
    app.jinja_env.globals["app_version"] = __version__

    from onboarding import models  # noqa: F401  (every table: migrations and the buffer see them all)
    from onboarding.api import bp as api_bp
    from onboarding.auth import bp as auth_bp
    from onboarding.avatars import bp as avatars_bp
    from onboarding.files import bp as files_bp
    from onboarding.health import bp as health_bp
    from onboarding.invitelinks.views import bp as invite_links_bp
    from onboarding.invites.views import bp as invites_bp
    from onboarding.members import bp as members_bp
    from onboarding.ops import bp as ops_bp
    from onboarding.orgs import bp as orgs_bp
    from onboarding.passkeys import bp as passkeys_bp
    from onboarding.setup import bp as setup_bp
    from onboarding.sso import bp as sso_bp
    from onboarding.tokens import bp as tokens_bp
    from onboarding.twofactor import bp as twofactor_bp
    from onboarding.useradmin import bp as useradmin_bp

    blueprints = (
        auth_bp,
        orgs_bp,
        setup_bp,
        health_bp,
        api_bp,
        invites_bp,
        members_bp,
        twofactor_bp,
        sso_bp,
        ops_bp,
        tokens_bp,
        avatars_bp,
        files_bp,
        useradmin_bp,
        passkeys_bp,
        invite_links_bp,
    )
    for bp in blueprints:
        app.register_blueprint(bp)
    csrf.exempt(health_bp)
    from onboarding.selfservice import bp as account_bp

    app.register_blueprint(account_bp)
    from onboarding.teams import bp as teams_bp

    app.register_blueprint(teams_bp)
    from onboarding.audit import bp as audit_bp
    from onboarding.deletion import bp as deletion_bp

    app.register_blueprint(audit_bp)
    app.register_blueprint(deletion_bp)
    from onboarding.webhooks import bp as webhooks_bp

    app.register_blueprint(webhooks_bp)

    @app.get("/")
    def index() -> Any:
        from flask import redirect, url_for

        return redirect(url_for("auth.login"))

    from onboarding.database import request_hooks

    request_hooks(app)
    from onboarding.avatars import uploads

    uploads.init_app(app)  # runs first: the upload size limit is checked before CSRF reads the body
    from onboarding import buffer, logs, metrics
    from onboarding.outbox.service import schedule_detached

    buffer.init_app(app, fallback=lambda payload: schedule_detached("buffer_incr", payload))
    from onboarding.ops import capture, status

    capture.init_app(app)
    metrics.init_app(app, state=status)
    logs.init_app(app)
    from onboarding.web import assets

    assets.init_app(app)  # last: WhiteNoise answers fingerprinted static files before anything else runs

    return app
