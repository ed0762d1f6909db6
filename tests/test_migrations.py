"""The migrations build exactly the schema the models describe, on SQLite and on PostgreSQL.

The suite's database (SQLite by default, PostgreSQL with ONBOARDING_TEST_DATABASE_URL) was built by
running the migrations once, so comparing it with the models checks the dialect in use.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from onboarding.extensions import db


def _diff(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, db.metadata)


def test_migrated_schema_matches_models(app: Any) -> None:
    with db.engine.connect() as connection:
        assert _diff(connection) == []
        assert MigrationContext.configure(connection).get_current_heads()


def test_every_model_table_exists(app: Any) -> None:
    tables = set(inspect(db.engine).get_table_names())
    assert set(db.metadata.tables) <= tables
    for name in (
        "user",
        "user_email",
        "user_session",
        "organization",
        "team",
        "organization_member",
        "organization_member_team",
        "auth_provider",
        "auth_identity",
        "audit_log_entry",
    ):
        assert name in tables


def test_email_unique_and_member_constraints(app: Any) -> None:
    inspector = inspect(db.engine)
    user_uniques = {tuple(u["column_names"]) for u in inspector.get_unique_constraints("user")}
    user_indexes = {tuple(i["column_names"]) for i in inspector.get_indexes("user") if i["unique"]}
    assert ("email",) in user_uniques | user_indexes
    member_uniques = {
        tuple(u["column_names"]) for u in inspector.get_unique_constraints("organization_member")
    }
    assert ("organization_id", "user_id") in member_uniques
    assert ("organization_id", "email") in member_uniques


def _cli(instance: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env["ONBOARDING_INSTANCE_PATH"] = str(instance)
    return subprocess.run(
        [str(Path(sys.executable).with_name("onboarding")), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_upgrade_downgrade_upgrade_and_default_org(tmp_path: Path) -> None:
    """On a fresh SQLite file: the schema round-trips, and the default organization comes with it."""
    instance = tmp_path / "instance"
    assert _cli(instance, "db", "upgrade").returncode == 0
    path = instance / "onboarding.sqlite3"
    with sqlite3.connect(path) as conn:
        assert conn.execute("select name, slug, is_default from organization").fetchall() == [
            ("Default", "default", 1)
        ]
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
    result = _cli(instance, "db", "downgrade", "base")
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(path) as conn:
        names = {
            r[0]
            for r in conn.execute("select name from sqlite_master where type='table'")
            if not r[0].startswith("sqlite_")  # SQLite's own bookkeeping (AUTOINCREMENT)
        }
    assert names <= {"alembic_version"}
    assert _cli(instance, "db", "upgrade").returncode == 0
    with sqlite3.connect(path) as conn:
        assert conn.execute("select count(*) from organization").fetchone()[0] == 1
