"""The only reader of ``HX-*`` request headers, and the answers htmx understands."""

from __future__ import annotations

from typing import Any

from flask import make_response, redirect, render_template, request
from jinja2_fragments.flask import render_block
from werkzeug.wrappers import Response


def is_htmx() -> bool:
    # A history-restore request wants the whole page (htmx docs, History Support).
    return (
        request.headers.get("HX-Request") == "true"
        and request.headers.get("HX-History-Restore-Request") != "true"
    )


def current_url() -> str | None:
    return request.headers.get("HX-Current-URL")


def render(template: str, *, block: str | None = None, status: int = 200, **ctx: Any) -> Response:
    """The whole page, or for htmx just ``block`` of it; always ``Vary: HX-Request``."""
    body = render_block(template, block, **ctx) if block and is_htmx() else render_template(template, **ctx)
    resp = make_response(body, status)
    resp.vary.add("HX-Request")
    return resp


def see_other(url: str) -> Response:
    """After a successful POST: 303 for a plain form, ``HX-Redirect`` (a real page load) for htmx."""
    resp: Response
    if is_htmx():
        resp = make_response("", 204)
        resp.headers["HX-Redirect"] = url
    else:
        resp = redirect(url, code=303)
    resp.vary.add("HX-Request")
    return resp
