"""Keep one-time tokens out of logs: the token part of a link's path is replaced by ``…``.

Installed on the root log handlers (application and Werkzeug logs) and used by the gunicorn access
logger (``onboarding.web.logmask.GunicornLogger``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

# /account/recover/confirm/<id>/<token>/, /account/confirm-email/<id>/<token>/,
# /account/change-email/<id>/<token>/, and invite links /accept/<id>/<token>/.
_TOKEN_PATH = re.compile(
    r"(/(?:account/recover/confirm|account/confirm-email|account/change-email|accept"
    r"|api/0/accept-invite)/[^/\s?\"]+/)[^/\s?\"]+"
)


def mask(text: str) -> str:
    return _TOKEN_PATH.sub(r"\1…", text)


def has_token(path: str) -> bool:
    """Whether ``path`` carries a one-time token (and so must never travel on in a Referer header)."""
    return _TOKEN_PATH.search(path) is not None


class TokenMaskFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is logging's problem, not ours
            return True
        masked = mask(message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


_filter = TokenMaskFilter()


def install() -> None:
    """Add the filter to every root handler (idempotent)."""
    for handler in logging.getLogger().handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)


try:
    from gunicorn.glogging import Logger as _GLogger

    class GunicornLogger(_GLogger):
        """gunicorn's logger with tokens masked in the request line and path atoms."""

        def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
            atoms = super().atoms(resp, req, environ, request_time)
            for key in ("r", "U", "f"):
                if isinstance(atoms.get(key), str):
                    atoms[key] = mask(atoms[key])
            return atoms  # type: ignore[no-any-return]

except ImportError:  # pragma: no cover - gunicorn is a dependency
    pass
