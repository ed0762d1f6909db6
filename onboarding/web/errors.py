"""Friendly error pages: never a stack trace, always the same look, JSON for the API."""

from __future__ import annotations

import logging

import sentry_sdk
from flask import Flask, jsonify, render_template, request
from flask.globals import request_ctx
from flask_wtf.csrf import CSRFError
from markupsafe import escape
from werkzeug.exceptions import HTTPException, InternalServerError
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.web import htmx
from onboarding.web.htmx import is_htmx

log = logging.getLogger(__name__)

TITLES = {
    400: ("Bad request", "The request could not be understood."),
    401: ("Sign-in required", "Please sign in to continue."),
    403: ("Not allowed", "You do not have access to this page."),
    404: ("Page not found", "There is nothing at this address."),
    405: ("Method not allowed", "This page cannot be used that way."),
    409: ("Conflict", "The change conflicts with the current state."),
    410: ("Gone", "This page no longer exists."),
    413: ("Too large", "The upload is larger than allowed."),
    414: ("Address too long", "The address of this request is longer than allowed."),
    422: ("Check the form", "Some values need correcting."),
    431: ("Headers too large", "The request carries more header data than allowed."),
    429: ("Too many requests", "You have made too many requests. Please try again later."),
    500: ("Something went wrong", "An unexpected error happened. It has been recorded; please try again."),
    503: ("Unavailable", "The service is temporarily unavailable. Please try again shortly."),
}


def error_page(code: int, message: str | None = None, *, title: str | None = None) -> Response:
    default_title, default_message = TITLES.get(code, ("Error", "Something went wrong."))
    text = message or default_message
    resp: Response
    if request.path.startswith("/api/") or request.is_json:  # a JSON request gets a JSON answer
        resp = jsonify({"detail": text})
    elif request_ctx.url_adapter is None:
        # No URLs can be built (a Host header not in TRUSTED_HOSTS): a bare page, without the site's links.
        resp = Response(
            f"<!doctype html><title>{code}</title><h1>{escape(text)}</h1>\n", mimetype="text/html"
        )
    else:
        resp = Response(
            render_template("errors/error.html", code=code, title=title or default_title, message=text),
            mimetype="text/html",
        )
    resp.status_code = code
    resp.vary.add("HX-Request")
    return resp


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    # A message given on purpose (``abort(404, "…")``) is shown; werkzeug's stock texts and anything
    # attached to a 500 are not.
    message = exc.description if exc.description and code not in (405, 500) and not _is_default(exc) else None
    resp = error_page(code, message)
    if code == 429 and getattr(exc, "retry_after", None):
        resp.headers["Retry-After"] = str(exc.retry_after)  # type: ignore[attr-defined]
    if code == 405 and exc.get_response().headers.get("Allow"):
        resp.headers["Allow"] = exc.get_response().headers["Allow"]
    return resp


def _is_default(exc: HTTPException) -> bool:
    return type(exc).description == exc.description


FORM_EXPIRED = "This form expired; your input is kept, send it again."


def _csrf_error(exc: CSRFError) -> Response:
    if is_htmx():
        # Nothing is swapped, so what was typed stays; static/app.js puts the fresh token into the
        # page's forms and shows FORM_EXPIRED at the top of the form that was sent.
        from flask_wtf.csrf import generate_csrf

        event = {"form-expired": {"token": generate_csrf(), "message": FORM_EXPIRED}}
        return htmx.response(FORM_EXPIRED, 400, trigger=event)
    return error_page(
        400, "This form has expired or did not come from this site. Reload the page and try again."
    )


def _unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    log.exception("Unhandled error on %s %s", request.method, request.path)
    # Roll back first: the failed request keeps nothing, and (SQLite) the capture can take the write lock.
    db.session.rollback()
    sentry_sdk.capture_exception(exc)  # stored in /manage/errors/ (onboarding.ops.capture)
    return error_page(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(InternalServerError, lambda e: error_page(500))
    app.register_error_handler(Exception, _unexpected)
