"""Flask-Security-Too's login page, set up as its documentation's quick start does (SQLAlchemy models,
SQLite, Argon2 through passlib, CSRF through Flask-WTF), so our sign-in page has a peer to be
measured against in the same run. Bench-only: ``pip install -r bench/requirements.txt``."""

from __future__ import annotations

import atexit
import shutil
import tempfile
from pathlib import Path
from typing import Any

EMAIL = "peer@example.com"
PASSWORD = "bench passphrase that is long enough"


def create() -> Any:
    from flask import Flask
    from flask_security import Security, SQLAlchemyUserDatastore, hash_password
    from flask_security.models import fsqla_v3 as fsqla
    from flask_sqlalchemy import SQLAlchemy

    folder = Path(tempfile.mkdtemp(prefix="fst-peer-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)  # the peer's database goes with the run
    app = Flask("fst_peer")
    app.config.update(
        SECRET_KEY="bench-secret-key-for-the-peer-app",
        SECURITY_PASSWORD_SALT="bench-salt-for-the-peer-app",
        SQLALCHEMY_DATABASE_URI=f"sqlite:///{folder / 'peer.sqlite3'}",
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        SECURITY_TRACKABLE=True,  # like ours: a sign-in writes who and when
        WTF_CSRF_ENABLED=True,
        # The same Argon2id cost as ours (m=19 MiB, t=2, p=1), so the sign-in split compares like with like.
        SECURITY_PASSWORD_HASH_PASSLIB_OPTIONS={
            "argon2__memory_cost": 19 * 1024,
            "argon2__rounds": 2,
            "argon2__parallelism": 1,
            "argon2__type": "ID",
        },
    )
    db = SQLAlchemy(app)
    fsqla.FsModels.set_db_info(db)

    class Role(db.Model, fsqla.FsRoleMixin):  # type: ignore[name-defined,misc]
        pass

    class User(db.Model, fsqla.FsUserMixin):  # type: ignore[name-defined,misc]
        pass

    class WebAuthn(db.Model, fsqla.FsWebAuthnMixin):  # type: ignore[name-defined,misc]
        pass  # the model refers to it whenever the webauthn package is installed

    datastore = SQLAlchemyUserDatastore(db, User, Role)
    app.security = Security(app, datastore)

    @app.get("/")
    def home() -> str:
        return "home"

    with app.app_context():
        db.create_all()
        datastore.create_user(email=EMAIL, password=hash_password(PASSWORD))
        db.session.commit()
    return app
