"""A PostgreSQL database of the benchmark's own: created at the start, dropped at the end.

No benchmark migrates, downgrades or empties a database it did not create."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator


@contextlib.contextmanager
def scratch_database(admin_url: str, purpose: str) -> Iterator[str]:
    """Yield the URL of a new, empty database on the server of ``admin_url``; drop it afterwards."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(admin_url)
    name = f"onb_bench_{purpose}_{os.getpid()}_{secrets.token_hex(3)}"
    admin = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
