"""Headers on every response, secure cookies, and the reverse-proxy fix."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from flask import Flask, abort, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from onboarding.web.logmask import has_token

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: https://www.gravatar.com; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class SessionInterface(SecureCookieSessionInterface):
    """Marks the cookie ``Secure`` whenever the request came over HTTPS (also behind a trusted proxy)."""

    def get_cookie_secure(self, app: Flask) -> bool:  # type: ignore[override]
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or (request.is_secure if request else False)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if g.get("stateless_response"):  # public, cacheable responses (avatar pictures) carry no cookie
            return None
        return super().save_session(app, session, response)


def add_headers(resp: Response) -> Response:
    headers = resp.headers
    if request and has_token(request.path):
        # Every answer to a token URL, error pages and redirects included: the URL never leaves in a Referer.
        headers["Referrer-Policy"] = "no-referrer"
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request and request.is_secure:
        # Only over HTTPS (behind a proxy: with ONBOARDING_TRUSTED_PROXIES set), as the standard says; a
        # year, as ASVS 3.4.1 asks. No preload: that is the operator's decision for the whole domain.
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    if resp.mimetype == "text/html" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    return resp


def static_headers(headers: Any, _path: str, _url: str) -> None:
    """The same protective headers on the static files WhiteNoise serves (onboarding.web.assets)."""
    headers["Content-Security-Policy"] = CSP
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"


def relative_location(resp: Response) -> Response:
    """Redirects to this site name a path, not a host: Werkzeug's trailing-slash redirect (308) would
    otherwise spell out whatever Host header the request carried."""
    location = resp.headers.get("Location")
    if location and resp.status_code in (301, 302, 303, 307, 308) and request:
        parts = urlsplit(location)
        if parts.netloc and parts.netloc.lower() == request.host.lower():
            resp.headers["Location"] = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    return resp


# The app refuses long request lines and headers itself, with its error pages and headers; gunicorn's own
# limits (onboarding.cli.gunicorn_command) sit above these, so only requests past them get its bare page.
MAX_REQUEST_TARGET = 8000  # under the request-line limit serve gives gunicorn (8190, its maximum)
MAX_HEADER_BYTES = 8190  # gunicorn's default field-size limit


def check_request_size() -> None:
    target = request.environ.get("RAW_URI") or request.full_path
    if len(target) > MAX_REQUEST_TARGET:
        abort(414)
    # NUL is never part of a real address or form value, and PostgreSQL refuses it in text (a 500).
    # A link with a one-time token is left to its page, which checks the token's shape before the
    # database and answers a broken link with the same page as any other bad link.
    if "\x00" in request.path and not has_token(request.path):
        abort(404)
    values = [*request.args.listvalues(), *(request.form.listvalues() if request.form else [])]
    if any("\x00" in v for vs in values for v in vs):
        abort(400, "A value in this request contains a NUL character.")
    if any(len(name) + len(value) > MAX_HEADER_BYTES for name, value in request.headers.items()):
        abort(431)


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    hops = app.config["TRUSTED_PROXIES"]
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.before_request(check_request_size)
    app.after_request(add_headers)
    app.after_request(relative_location)
