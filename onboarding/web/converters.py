"""URL converters and number parsers shared by every blueprint.

Every id or page number that comes from a request goes through one of these, so an odd value (huge,
negative, non-ASCII digits, empty) is a plain 404 or the first page instead of an overflow inside the
database driver (SQLite raises on integers past 2**63, PostgreSQL on ``integer`` past 2**31 - 1).
"""

from __future__ import annotations

import re
from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**31 - 1  # the range of an ``Integer`` id column
MAX_PAGE = 100_000
_DIGITS = re.compile(r"[0-9]{1,10}")


class BoundedInt(IntegerConverter):
    """``<int:…>`` limited to the range of an ``Integer`` id column (larger ids do not match: 404)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def bounded_id(value: Any) -> int | None:
    """A positive id within an ``Integer`` column's range from text (ASCII digits only), else None."""
    text = value if isinstance(value, str) else str(value) if isinstance(value, int) else ""
    if not _DIGITS.fullmatch(text):
        return None
    number = int(text)
    return number if 0 < number <= MAX_ID else None


def page_number(value: str | None) -> int:
    """The page asked for with ``?page=``: 1 unless it is a whole number from 1 to ``MAX_PAGE``."""
    text = value or ""
    if not _DIGITS.fullmatch(text):
        return 1
    number = int(text)
    return number if 1 <= number <= MAX_PAGE else 1


def init_app(app: Any) -> None:
    app.url_map.converters["int"] = BoundedInt
