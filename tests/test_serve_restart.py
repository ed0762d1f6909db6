"""``onboarding serve`` on an install that already has its administrator must not hold the SQLite write lock.

Regression: serve checked "is there a superuser?" in a transaction that (CLI commands mean to write)
began IMMEDIATE and was never ended when the answer was yes, so every write of the web app waited out
the busy timeout and failed with "database is locked" — on every start after the first.
"""

from __future__ import annotations

import http.cookiejar
import re
import time
import urllib.parse
import urllib.request

from tests.e2e_serve import served

EMAIL = "admin@example.com"
PASSWORD = "admin horse battery staple"


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        return None


def test_sign_in_writes_on_a_server_that_has_a_superuser() -> None:
    with served([["--email", EMAIL, "--password", PASSWORD, "--superuser"]]) as srv:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
        page = opener.open(f"{srv.base}/auth/login/", timeout=30).read().decode()
        csrf = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urllib.parse.urlencode(
            {"op": "login", "username": EMAIL, "password": PASSWORD, "csrf_token": csrf}
        ).encode()
        started = time.monotonic()
        try:
            resp = opener.open(f"{srv.base}/auth/login/", data=form, timeout=60)
            status, location = resp.status, resp.headers.get("Location")
        except urllib.error.HTTPError as exc:  # the 303 surfaces here with redirects off
            status, location = exc.code, exc.headers.get("Location")
        elapsed = time.monotonic() - started
        log = srv.log.read_text(errors="replace")
        assert status == 303, log
        assert location == "/organizations/default/"
        assert elapsed < 5, f"sign-in waited {elapsed:.1f}s for the database"
        assert "database is locked" not in log
