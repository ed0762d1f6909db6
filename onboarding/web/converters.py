"""URL converters shared by every blueprint."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter


class BoundedInt(IntegerConverter):
    """``<int:…>`` limited to the range of an ``Integer`` id column, so an id like 10**20 is a plain
    404 instead of an overflow inside the database driver (SQLite raises on integers past 2**63)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(map, *args, **kwargs)


def init_app(app: Any) -> None:
    app.url_map.converters["int"] = BoundedInt
