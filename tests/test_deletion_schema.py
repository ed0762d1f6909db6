"""Deletion leans on the schema: every table that refers to a user or an organization, including tables
added after this test was written, must let that user or organization go. Checked on the migrated
database (SQLite, or PostgreSQL in CI), so a migration that forgets ``ondelete`` fails here.

A new table that references a user or an organization must either
- use a foreign key with ``ondelete="CASCADE"`` (its rows belong to it) or ``"SET NULL"`` (they only
  mention it), or
- hold the id without a foreign key and be listed in ``CLEANED_BY_SERVICE`` below, with the line added to
  :mod:`onboarding.deletion.service` that removes its rows.
A table holding files must delete them through :func:`onboarding.files.service.delete_file` (the avatar
pattern in ``deletion.service._delete_avatar``) so that blobs shared with other files survive.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect

from onboarding.extensions import db

PARENTS = {"user", "organization"}
ALLOWED = {"CASCADE", "SET NULL"}
# (table, column) holding a user's or an organization's id with no foreign key, and why that is fine.
CLEANED_BY_SERVICE = {
    (
        "avatar_upload",
        "owner_id",
    ): "deletion.service._delete_avatar removes a user's or an organization's uploads",
    ("error_event", "user_id"): "deletion.service.delete_user clears it (captured errors stay, unnamed)",
}
ID_COLUMN_ENDINGS = ("user_id", "organization_id", "owner_id", "actor_id", "inviter_id")


def _references(app: Any) -> tuple[list[str], list[str]]:
    inspector = inspect(db.engine)
    bad_fks, unguarded = [], []
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        fks = inspector.get_foreign_keys(table)
        with_fk = {column for fk in fks for column in fk["constrained_columns"]}
        for fk in fks:
            if fk["referred_table"] in PARENTS:
                ondelete = ((fk.get("options") or {}).get("ondelete") or "NO ACTION").upper()
                if ondelete not in ALLOWED:
                    bad_fks.append(
                        f"{table}.{fk['constrained_columns']} → {fk['referred_table']}: {ondelete}"
                    )
        for column in inspector.get_columns(table):
            name = column["name"]
            if (
                name.endswith(ID_COLUMN_ENDINGS)
                and name not in with_fk
                and (table, name) not in CLEANED_BY_SERVICE
            ):
                unguarded.append(f"{table}.{name}")
    return bad_fks, unguarded


def test_every_reference_to_a_user_or_organization_goes_with_it(app: Any) -> None:
    bad_fks, unguarded = _references(app)
    assert bad_fks == [], "foreign keys that would block deleting a user or an organization"
    assert unguarded == [], "ids of users or organizations that no foreign key or deletion code covers"


def test_the_check_sees_a_table_that_forgets(app: Any) -> None:
    """The check is not vacuous: a table with a plain foreign key, or a bare id, is reported."""
    from sqlalchemy import text

    with db.engine.begin() as conn:
        conn.execute(
            text(
                'CREATE TABLE forgetful (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES "user"(id), organization_id INTEGER)'
            )
        )
    try:
        bad_fks, unguarded = _references(app)
        assert any(entry.startswith("forgetful.") for entry in bad_fks)
        assert "forgetful.organization_id" in unguarded
    finally:
        with db.engine.begin() as conn:
            conn.execute(text("DROP TABLE forgetful"))
