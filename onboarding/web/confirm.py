"""Confirmation without JavaScript for destructive actions.

A destructive button is drawn by the ``confirm_button`` macro (``templates/_macros.html``): a small GET
form to ``/confirm/`` carrying a sealed description of the real action (its URL, the question, the
button's label, hidden fields, and the page to return to). Without JavaScript, pressing it opens a
confirmation page holding the real POST form (with its CSRF token); with htmx, the same form asks with
``hx-confirm`` and posts straight to the action, as before. The POST endpoints do not change.

The description is sealed (encrypted and signed with the secret key), so the page shows only questions
this server wrote, and never an address in clear in a URL or a log. It expires after a day.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import Flask, abort, current_app, render_template, request

from onboarding.web.redirects import safe_path

PURPOSE = b"confirm-page"
MAX_AGE = 24 * 3600


def _fernet() -> Fernet:
    secret = current_app.config["SECRET_KEY"]
    raw = secret if isinstance(secret, bytes) else str(secret).encode()
    return Fernet(base64.urlsafe_b64encode(hashlib.sha256(PURPOSE + b"\0" + raw).digest()))


def confirm_token(
    action: str,
    question: str,
    button: str,
    fields: dict[str, Any] | None = None,
    back: str | None = None,
    detail: str = "",
) -> str:
    """The sealed description behind a confirmation page (the ``c`` parameter of ``/confirm/``)."""
    payload = {
        "a": action,
        "q": question,
        "b": button,
        "f": {str(k): str(v) for k, v in (fields or {}).items()},
        "r": back or request.path,
        "d": detail,
    }
    return _fernet().encrypt(json.dumps(payload).encode()).decode("ascii")


def _opened(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(_fernet().decrypt(raw.encode("ascii"), ttl=MAX_AGE))
    except (InvalidToken, UnicodeError, ValueError):
        abort(404)
    if not isinstance(data, dict):
        abort(404)
    if safe_path(data.get("a")) != data.get("a"):
        abort(404)
    return data


def confirm_page() -> str:
    """GET /confirm/?c=…: the question and the real form; Cancel returns to the page it came from."""
    data = _opened(request.args.get("c", ""))
    return render_template(
        "confirm.html",
        action=data["a"],
        question=data["q"],
        button=data["b"],
        fields=data.get("f", {}),
        detail=data.get("d", ""),
        back=safe_path(data.get("r")) or "/",
    )


def init_app(app: Flask) -> None:
    app.add_url_rule("/confirm/", "confirm", confirm_page, methods=["GET"])
    app.add_template_global(confirm_token, "confirm_token")
