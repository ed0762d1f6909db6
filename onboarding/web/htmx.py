"""The only reader of ``HX-*`` request headers, and the answers htmx understands.

Requests are htmx-flask's ``HtmxAwareRequest`` (``Htmx(app)`` in the factory), so ``request.htmx`` holds
the request headers; answers carry htmx's response headers through htmx-flask's ``make_response``. Every
answer that depends on ``HX-Request`` says so in ``Vary``, so no cache hands a fragment to a page load.
"""

from __future__ import annotations

from typing import Any, cast

import htmx_flask
from flask import Flask, redirect, render_template
from jinja2_fragments.flask import render_block
from werkzeug.urls import iri_to_uri
from werkzeug.wrappers import Response

request = htmx_flask.request  # flask.request, typed with its ``htmx`` attribute


def init_app(app: Flask) -> None:
    htmx_flask.Htmx(app)


def is_htmx() -> bool:
    # A history-restore request wants the whole page (htmx docs, History Support).
    headers = request.htmx
    return bool(headers) and not headers.history_restore_request


def current_url() -> str | None:
    return cast(str | None, request.htmx.current_url)


def response(*args: Any, **hx: Any) -> Response:
    """``flask.make_response(*args)`` with htmx's response headers (``redirect=``, ``refresh=``,
    ``retarget=``, ``reswap=``, … as htmx-flask names them) and ``Vary: HX-Request``."""
    resp = htmx_flask.make_response(*args, **hx)
    resp.vary.add("HX-Request")
    return resp


def render(template: str, *, block: str | None = None, status: int = 200, **ctx: Any) -> Response:
    """The whole page, or for htmx just ``block`` of it; always ``Vary: HX-Request``."""
    body = render_block(template, block, **ctx) if block and is_htmx() else render_template(template, **ctx)
    return response(body, status)


def see_other(url: str) -> Response:
    """After a successful POST: 303 for a plain form, ``HX-Redirect`` (a real page load) for htmx."""
    if is_htmx():
        return response("", 204, redirect=iri_to_uri(url))  # a header value: ASCII only
    resp = redirect(url, code=303)
    resp.vary.add("HX-Request")
    return resp
