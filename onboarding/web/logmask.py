"""Keep one-time tokens out of logs: the token part of a link's path is replaced by ``…``.

Installed on the root log handlers (application and Werkzeug logs) and used by the gunicorn access
logger (``onboarding.web.logmask.GunicornLogger``).
"""

from __future__ import annotations

import logging
import re
from typing import Any

# Every path that carries a one-time token, the one list for logs, the access log, captured errors
# (scrub_text below) and the no-referrer rule: /account/recover/confirm/<id>/<token>/,
# /account/confirm-email/<id>/<token>/, /account/change-email/<id>/<token>/, invite links
# /accept/<id>/<token>/ and /api/0/accept-invite/<id>/<token>/, and the setup link /setup/<token>/.
_END = r"[^/\s?#\"'<>]+"
_TOKEN_PATHS = (
    re.compile(
        r"(/(?:account/recover/confirm|account/confirm-email|account/change-email|accept"
        r"|api/0/accept-invite)/" + _END + "/)" + _END
    ),
    re.compile(r"(/setup/)" + _END),
    # Shareable invite links /join/<token>/ and their emailed address proofs /join/confirm/<signed>/.
    re.compile(r"(/join/(?:confirm/)?)" + _END),
)


def mask(text: str) -> str:
    for pattern in _TOKEN_PATHS:
        text = pattern.sub(r"\1…", text)
    return text


def has_token(path: str) -> bool:
    """Whether ``path`` carries a one-time token (and so must never travel on in a Referer header)."""
    return any(pattern.search(path) is not None for pattern in _TOKEN_PATHS)


MASK = "[Filtered]"
# Tokens inside URLs and messages: invite and password-reset links, bearer credentials.
_URL_SECRETS = (
    (re.compile(r"(?i)(bearer\s+)[^\s\"']+"), r"\1" + MASK),
    # Query strings: ?token=…&password=…
    (
        re.compile(
            r"(?i)((?:^|[?&;\s])[\w.-]*(?:token|pass(?:word|wd)?|secret|api[-_]?key|otp|code|signature)=)[^&;\s#\"']+"
        ),
        r"\1" + MASK,
    ),
)


def scrub_text(text: str) -> str:
    """Mask one-time tokens in paths (``/accept/<id>/…/``; the list above),
    bearer credentials and secret-named query parameters."""
    text = mask(text)
    for pattern, repl in _URL_SECRETS:
        text = pattern.sub(repl, text)
    return text


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
