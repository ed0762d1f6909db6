"""Where a ``next`` parameter may send someone: only to a path on this site.

Every payload in SECURITY.md's table (``//evil.com``, ``\\evil.com``, ``/\\evil.com``,
``/a/../\\evil.com``, ``\\t//evil.com``, ``https://evil.com\\.ourhost``, ``https://user:pw@evil.com``) is
refused here, and the reason is the rule beside it: browsers treat backslashes as slashes and drop
tabs and newlines, so anything carrying them is refused outright rather than repaired.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

from flask import current_app, request
from werkzeug.urls import iri_to_uri

LOGIN_PATH = "/auth/login/"
_CONTROL = re.compile(r"[\x00-\x20\x7f\\]")


def _allowed_hosts() -> set[str]:
    hosts = {request.host.lower()}
    base = current_app.config.get("BASE_URL")
    if base:
        hosts.add(urlsplit(base).netloc.lower())
    return hosts


def safe_path(url: str | None) -> str | None:
    """The same-site path (with query) that ``url`` points to, or None if it may not be followed."""
    if not url or len(url) > 2000 or _CONTROL.search(url):
        return None
    parts = urlsplit(url)
    if parts.scheme or parts.netloc:
        # Absolute URLs only to this host, over http(s), with no user info.
        if parts.scheme not in ("http", "https") or "@" in parts.netloc:
            return None
        if parts.netloc.lower() not in _allowed_hosts():
            return None
    path = parts.path or "/"
    if not path.startswith("/") or path.startswith("//"):
        return None
    if path.startswith(LOGIN_PATH):  # back to sign-in: would loop
        return None
    # Percent-quoted, so the path is a valid header value (Location, HX-Redirect) and is kept that way.
    return iri_to_uri(urlunsplit(("", "", path, parts.query, "")))
