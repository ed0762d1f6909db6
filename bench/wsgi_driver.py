"""A benchmark's own client: calls a WSGI app in-process and counts the CPU the app spends.

Only the call into the app and the reading of its answer are timed (``time.process_time``: CPU time of
this process, so other programs on a busy machine do not inflate it); building the request and reading
cookies happen outside the timed part, so the client's own work is not billed to the server.

Each benchmark app (ours, a bare Flask app, Flask-Security-Too's peer app) runs in its own process
(``python bench/wsgi_driver.py KIND``) and answers commands on stdin, one JSON object a line, so the
apps never share an interpreter (sentry-sdk, for one, patches Flask process-wide) and the parent can
interleave rounds: A, B, C, A, B, C, … so that a noisy stretch hits every app alike.
"""

from __future__ import annotations

import gc
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CSRF = re.compile(r'name="csrf[-_]token"\s+(?:content|value)="([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


class Answer:
    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes, cpu: float) -> None:
        self.status, self.headers, self.body, self.cpu = status, headers, body, cpu

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class Browser:
    """One visitor: a cookie jar, and requests made straight into the WSGI callable."""

    def __init__(self, app: Callable[..., Iterable[bytes]], remote_addr: str = "127.0.0.1") -> None:
        self.app = app
        self.cookies: dict[str, str] = {}
        self.remote_addr = remote_addr

    def request(
        self,
        method: str,
        path: str,
        form: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Answer:
        from werkzeug.test import EnvironBuilder

        hdrs = dict(headers or {})
        if self.cookies:
            hdrs["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        builder = EnvironBuilder(
            path=path,
            method=method,
            headers=hdrs,
            data=form,
            environ_base={"REMOTE_ADDR": self.remote_addr},
        )
        environ = builder.get_environ()
        builder.close()
        captured: list[Any] = []

        def start_response(
            status: str, response_headers: list[tuple[str, str]], exc_info: Any = None
        ) -> None:
            captured[:] = [status, response_headers]

        t0 = time.process_time()
        result = self.app(environ, start_response)
        try:
            body = b"".join(result)
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        cpu = time.process_time() - t0
        status, response_headers = captured
        for name, value in response_headers:
            if name.lower() == "set-cookie":
                jar: SimpleCookie = SimpleCookie()
                jar.load(value)
                for key, morsel in jar.items():
                    if morsel["max-age"] == "0" or (morsel["expires"] and "1970" in morsel["expires"]):
                        self.cookies.pop(key, None)
                    else:
                        self.cookies[key] = morsel.value
        return Answer(int(status.split()[0]), response_headers, body, cpu)


def csrf_token(html: str) -> str:
    match = CSRF.search(html) or CSRF_INPUT.search(html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return next(g for g in match.groups() if g)


def rss_mb() -> float:
    import psutil

    return float(psutil.Process().memory_info().rss) / 1e6


# --- the apps ---------------------------------------------------------------------------------------


class Target:
    """What a benchmark process knows about its app: how to view the sign-in page and how to sign in."""

    login_path = "/auth/login/"

    def __init__(self) -> None:
        self.app: Any = None

    def sign_in_form(self, page: str, email: str, password: str) -> dict[str, str]:
        return {"op": "login", "username": email, "password": password, "csrf_token": csrf_token(page)}

    signed_in_status = 303


def build(kind: str) -> Target:
    if kind == "bare":
        from flask import Flask

        target = Target()
        bare = Flask("bare")

        @bare.get("/auth/login/")
        def page() -> str:
            return "Hello, World!"

        target.app = bare
        return target
    if kind == "ours":
        # Exactly as a web process starts: the WSGI entry point (app.py) builds the app.
        import app as entry  # type: ignore[import-not-found]

        target = Target()
        target.app = entry.app
        return target
    if kind == "fst":
        from bench.peers import fst_app

        target = Target()
        target.app = fst_app.create()
        target.login_path = "/login"
        target.signed_in_status = 302

        def form(page: str, email: str, password: str) -> dict[str, str]:
            return {"email": email, "password": password, "csrf_token": csrf_token(page), "submit": "Login"}

        target.sign_in_form = form  # type: ignore[method-assign]
        return target
    raise SystemExit(f"unknown app {kind!r}")


class HashClock:
    """Counts Argon2 verifications and the CPU they take (argon2-cffi's verify, whoever calls it)."""

    def __init__(self) -> None:
        import argon2._password_hasher as ph
        import argon2.low_level as low

        self.calls = 0
        self.cpu = 0.0
        original = low.verify_secret

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                self.cpu += time.process_time() - t0
                self.calls += 1

        low.verify_secret = timed
        ph.verify_secret = timed  # type: ignore[attr-defined]
        try:  # passlib's argon2 handler (Flask-Security-Too) calls the module attribute
            import passlib.handlers.argon2 as pl

            backend = getattr(pl, "_argon2_cffi", None)
            if backend is not None and hasattr(backend, "low_level"):
                backend.low_level.verify_secret = timed
        except ImportError:
            pass

    def reset(self) -> None:
        self.calls, self.cpu = 0, 0.0


# --- commands ----------------------------------------------------------------------------------------


def serve(kind: str) -> None:
    t0 = time.process_time()
    target = build(kind)
    startup = time.process_time() - t0
    clock = HashClock()
    visitor = Browser(target.app)
    out = sys.stdout
    sys.stdout = sys.stderr  # the app's prints never corrupt the protocol
    out.write(json.dumps({"ready": True, "startup_cpu": startup, "rss_mb": rss_mb()}) + "\n")
    out.flush()
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd["op"]
        result: dict[str, Any] = {}
        if op == "views":  # the sign-in page, one returning visitor (cookies kept, as a browser does)
            cpu = 0.0
            for _ in range(cmd["n"]):
                answer = visitor.request("GET", target.login_path, headers=cmd.get("headers"))
                if answer.status != 200:
                    raise SystemExit(f"{kind}: sign-in page answered {answer.status}")
                cpu += answer.cpu
            result = {"cpu": cpu, "n": cmd["n"], "bytes": len(answer.body)}
        elif op == "signins":  # complete sign-ins, each from a fresh visitor; the POST alone is timed
            post_cpu = 0.0
            clock.reset()
            for _ in range(cmd["n"]):
                b = Browser(target.app)
                page = b.request("GET", target.login_path).text
                answer = b.request(
                    "POST", target.login_path, target.sign_in_form(page, cmd["email"], cmd["password"])
                )
                if answer.status != target.signed_in_status:
                    raise SystemExit(f"{kind}: sign-in answered {answer.status}: {answer.text[:300]}")
                post_cpu += answer.cpu
            result = {"cpu": post_cpu, "hash_cpu": clock.cpu, "hashes": clock.calls, "n": cmd["n"]}
        elif op == "throttled":  # attempts after the per-email limit: must answer 429 without hashing
            b = Browser(target.app)
            page = b.request("GET", target.login_path).text
            form = target.sign_in_form(page, cmd["email"], "wrong password, many times")
            for _ in range(cmd["warm"]):
                b.request("POST", target.login_path, form)
            clock.reset()
            cpu, statuses = 0.0, set()
            for _ in range(cmd["n"]):
                answer = b.request("POST", target.login_path, form)
                statuses.add(answer.status)
                cpu += answer.cpu
            result = {"cpu": cpu, "n": cmd["n"], "hashes": clock.calls, "statuses": sorted(statuses)}
        elif op == "get":  # one request, answer returned (page weight)
            b = Browser(target.app)
            answer = b.request("GET", cmd["path"], headers=cmd.get("headers"))
            result = {
                "status": answer.status,
                "headers": answer.headers,
                "length": len(answer.body),
                "text": answer.text if cmd.get("text") else "",
            }
        elif op == "rss":
            gc.collect()
            result = {"rss_mb": rss_mb()}
        elif op == "quit":
            break
        out.write(json.dumps(result) + "\n")
        out.flush()


if __name__ == "__main__":
    os.chdir(ROOT)
    serve(sys.argv[1])
