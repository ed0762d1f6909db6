"""Create or drop the PostgreSQL database of one CI run: ``pgdb.py create|drop NAME``.

Each run gets its own database (and the per-worker ones conftest derives from it), so nothing left
on the shared server by an earlier run, a developer or a stray process can block or confuse this one.
"""

from __future__ import annotations

import sys

import psycopg

ADMIN = "postgresql://postgres@127.0.0.1:5432/test"


def main(action: str, name: str) -> None:
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        if action == "create":
            conn.execute(f'CREATE DATABASE "{name}"')
        elif action == "drop":
            rows = conn.execute(
                "SELECT datname FROM pg_database WHERE datname = %s OR datname LIKE %s",
                (name, name.replace("_", r"\_") + r"\_gw%"),
            ).fetchall()
            for (db,) in rows:
                conn.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        else:
            raise SystemExit(f"unknown action {action!r}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
