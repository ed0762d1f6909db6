"""Headers on every response, cookie flags, CSRF, Vary on fragments, and error pages without stack traces."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.conftest import csrf_from
from tests.factories import PASSWORD, default_org, make_member, make_user


def _directives(resp: Any) -> dict[str, list[str]]:
    csp = resp.headers["Content-Security-Policy"]
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


@pytest.mark.parametrize("path", ["/auth/login/", "/healthz", "/no-such-page/", "/static/app.css"])
def test_headers_on_every_response(client: Any, path: str) -> None:
    resp = client.get(path)
    csp = _directives(resp)
    assert csp["object-src"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert "'unsafe-eval'" not in resp.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in csp["script-src"]
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] in (
        "strict-origin-when-cross-origin",
        "no-referrer",
        "same-origin",
    )


def test_pages_have_no_inline_scripts_or_styles(client: Any) -> None:
    html = client.get("/auth/login/").get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert " style=" not in html and "<style" not in html
    assert " onclick=" not in html.lower()


def _session_cookie(resp: Any) -> str:
    cookies = [v for v in resp.headers.getlist("Set-Cookie") if v.startswith("onboarding_session=")]
    assert cookies, resp.headers
    return cookies[0]


def _flags(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]} | {
        part.strip().lower() for part in cookie.split(";")[1:]
    }


def test_cookie_over_http_is_httponly_lax_not_secure(client: Any) -> None:
    flags = _flags(_session_cookie(client.get("/auth/login/")))
    assert "httponly" in flags
    assert "samesite=lax" in flags
    assert "secure" not in flags


def test_cookie_over_https_is_secure(client: Any) -> None:
    resp = client.get("/auth/login/", base_url="https://localhost")
    assert {"secure", "httponly", "samesite=lax"} <= _flags(_session_cookie(resp))
    assert resp.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


def test_no_hsts_over_plain_http(client: Any) -> None:
    """HSTS over HTTP is ignored by browsers and would mislead; a forged X-Forwarded-Proto gets none."""
    assert "Strict-Transport-Security" not in client.get("/auth/login/").headers
    forged = client.get("/healthz", headers={"X-Forwarded-Proto": "https"})
    assert "Strict-Transport-Security" not in forged.headers


def test_forwarded_proto_ignored_without_trusted_proxy(client: Any) -> None:
    resp = client.get("/auth/login/", headers={"X-Forwarded-Proto": "https"})
    assert "secure" not in _flags(_session_cookie(resp))


@pytest.mark.parametrize("settings", [{"TRUSTED_PROXIES": 1}])
def test_cookie_secure_behind_trusted_proxy(app: Any) -> None:
    resp = app.test_client().get(
        "/auth/login/", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert {"secure", "httponly", "samesite=lax"} <= _flags(_session_cookie(resp))
    assert "Strict-Transport-Security" in resp.headers
    plain = app.test_client().get("/auth/login/", headers={"X-Forwarded-Proto": "http"})
    assert "secure" not in _flags(_session_cookie(plain))


# --- CSRF -------------------------------------------------------------------------------------

CSRF_ON = {"WTF_CSRF_ENABLED": True}


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_post_without_token_is_refused_with_friendly_page(client: Any) -> None:
    user = make_user()
    client.get("/auth/login/")
    resp = client.post("/auth/login/", data={"op": "login", "username": user.email, "password": PASSWORD})
    assert resp.status_code == 400
    body = resp.get_data(as_text=True)
    assert "This form has expired or did not come from this site." in body
    assert "<html" in body and "Traceback" not in body
    # Nobody was signed in.
    assert client.get("/auth/login/").status_code == 200


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_post_with_wrong_token_is_refused(client: Any) -> None:
    user = make_user()
    client.get("/auth/login/")
    resp = client.post(
        "/auth/login/",
        data={"op": "login", "username": user.email, "password": PASSWORD, "csrf_token": "forged"},
    )
    assert resp.status_code == 400


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_htmx_post_without_token_keeps_the_input_and_sends_a_fresh_token(client: Any) -> None:
    client.get("/auth/login/")
    resp = client.post("/auth/login/", data={"op": "login"}, headers={"HX-Request": "true"})
    assert resp.status_code == 400
    assert "HX-Refresh" not in resp.headers  # a reload would lose what was typed
    event = json.loads(resp.headers["HX-Trigger"])["form-expired"]
    assert event["message"] == "This form expired; your input is kept, send it again."
    assert event["token"]


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_post_with_form_token_works(client: Any) -> None:
    user = make_user()
    html = client.get("/auth/login/").get_data(as_text=True)
    form = html[html.index('id="login-form"') :]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert token
    resp = client.post(
        "/auth/login/",
        data={"op": "login", "username": user.email, "password": PASSWORD, "csrf_token": token.group(1)},
    )
    assert resp.status_code == 303


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_post_with_header_token_from_meta_works(client: Any) -> None:
    user = make_user()
    token = csrf_from(client.get("/auth/login/").get_data(as_text=True))
    resp = client.post(
        "/auth/login/",
        data={"op": "login", "username": user.email, "password": PASSWORD},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    assert resp.status_code == 204
    assert resp.headers["HX-Redirect"].startswith("/organizations/")


@pytest.mark.parametrize("settings", [CSRF_ON])
def test_sign_out_needs_the_token(client: Any) -> None:
    user = make_user()
    make_member(default_org(), user)
    token = csrf_from(client.get("/auth/login/").get_data(as_text=True))
    client.post(
        "/auth/login/",
        data={"op": "login", "username": user.email, "password": PASSWORD, "csrf_token": token},
    )
    assert client.post("/auth/logout/").status_code == 400
    page = client.get("/organizations/", follow_redirects=True)
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    assert client.post("/auth/logout/", data={"csrf_token": token}).status_code == 303


# --- Vary --------------------------------------------------------------------------------------


def test_vary_on_fragment_and_full_responses(client: Any) -> None:
    full = client.get("/auth/login/")
    assert "HX-Request" in full.vary
    fragment = client.post(
        "/auth/login/",
        data={"op": "login", "username": "x@example.com", "password": "nope"},
        headers={"HX-Request": "true"},
    )
    assert fragment.status_code == 422
    assert "<html" not in fragment.get_data(as_text=True)
    assert "HX-Request" in fragment.vary
    inline = client.post(
        "/auth/register/",
        data={"op": "register", "username": "bad", "_validate": "username"},
        headers={"HX-Request": "true"},
    )
    assert "HX-Request" in inline.vary


# --- error pages -------------------------------------------------------------------------------

TRACE_MARKERS = ("Traceback", 'File "', "RuntimeError", "werkzeug", "secret detail")


def _no_trace(resp: Any) -> str:
    body = resp.get_data(as_text=True)
    for marker in TRACE_MARKERS:
        assert marker not in body
    return body


def test_404_page(client: Any) -> None:
    resp = client.get("/definitely/not/here/")
    assert resp.status_code == 404
    body = _no_trace(resp)
    assert "Page not found" in body and "<html" in body


def test_405_page(client: Any) -> None:
    resp = client.delete("/auth/login/")
    assert resp.status_code == 405
    assert "Method not allowed" in _no_trace(resp)
    assert "GET" in resp.headers["Allow"]


@pytest.mark.parametrize("propagate", [False, None])
def test_500_page_never_shows_the_error(app: Any, propagate: bool | None) -> None:
    def boom() -> str:
        raise RuntimeError("secret detail")

    app.add_url_rule("/test-only/boom/", "test_boom", boom)
    app.add_url_rule("/api/0/test-only/boom/", "test_api_boom", boom)
    if propagate is not None:
        app.config["PROPAGATE_EXCEPTIONS"] = propagate
    client = app.test_client()
    resp = client.get("/test-only/boom/")
    assert resp.status_code == 500
    assert "Something went wrong" in _no_trace(resp)
    assert resp.headers["Content-Security-Policy"]
    api = client.get("/api/0/test-only/boom/")
    assert api.status_code == 500
    assert api.is_json and set(api.get_json()) == {"detail"}
    assert "secret detail" not in api.get_data(as_text=True)


def test_htmx_error_is_not_swapped_but_vary_is_set(client: Any) -> None:
    resp = client.get("/nowhere/", headers={"HX-Request": "true"})
    assert resp.status_code == 404
    assert "HX-Request" in resp.vary


def test_static_files_fingerprinted_immutable_and_compressed(client: Any) -> None:
    """Pages link fingerprinted static files, served compressed with a year-long immutable cache and the
    same protective headers; the favicon is inlined (one request fewer)."""
    html = client.get("/auth/login/").get_data(as_text=True)
    links = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert links and all(re.search(r"\.[0-9a-f]{12}\.(css|js)$", link) for link in links), links
    assert 'rel="icon" href="data:image/svg+xml,' in html
    for link in links:
        resp = client.get(link, headers={"Accept-Encoding": "br, gzip"})
        assert resp.status_code == 200
        assert resp.headers["Content-Encoding"] == "br"
        assert "immutable" in resp.headers["Cache-Control"]
        assert "max-age=315360000" in resp.headers["Cache-Control"]
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        plain = client.get(link)
        assert "Content-Encoding" not in plain.headers
        assert len(resp.data) < len(plain.data)


def test_pages_compressed_when_asked(client: Any) -> None:
    import brotli

    plain = client.get("/auth/login/")
    assert "Content-Encoding" not in plain.headers
    resp = client.get("/auth/login/", headers={"Accept-Encoding": "br"})
    assert resp.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in resp.headers["Vary"]
    assert b"csrf-token" in brotli.decompress(resp.data)
