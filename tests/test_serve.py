"""``onboarding serve`` end to end: migrations, gunicorn, a worker and an embedded Redis, and a clean stop."""

from __future__ import annotations

import http.cookiejar
import re
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.conftest import free_port
from tests.serve_helpers import ONBOARDING, PASSWORD, Server, env_for

pytestmark = pytest.mark.slow


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path / "instance", free_port(), ONBOARDING_ALLOW_REGISTRATION="false")
    try:
        srv.wait_for(r"running at")
        yield srv
    finally:
        if srv.proc.poll() is None:
            srv.kill_all()


def _get(url: str, opener: Any = None) -> tuple[int, str, str]:
    opener = opener or urllib.request.build_opener()
    try:
        with opener.open(url, timeout=15) as resp:
            return resp.status, resp.read().decode(), resp.geturl()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), url


def test_serve_runs_everything_and_stops_cleanly(server: Server) -> None:
    running = server.wait_for(r"Onboarding is running at (http://\S+)/")
    assert running.group(1) == server.url
    setup = server.wait_for(r"Create one at: (http://\S+/setup/[A-Za-z0-9_-]{40,}/)").group(1)

    assert _get(f"{server.url}/healthz")[0] == 200
    status, body, _ = _get(f"{server.url}/readyz")
    assert (
        status == 200
        and '"redis":"ok"' in body.replace(" ", "")
        and '"database":"ok"' in body.replace(" ", "")
    )

    status, body, _ = _get(setup)
    assert status == 200 and 'id="setup-form"' in body

    # The children: gunicorn (master and workers), the job worker, the embedded Redis.
    children = server.descendants()
    commands = [" ".join(c.cmdline()) for c in children]
    assert any("gunicorn" in c for c in commands), commands
    assert any("onboarding.cli worker" in c for c in commands), commands
    assert any("redis-server" in c for c in commands), commands
    assert (server.instance / "redis" / "redis.sock").exists()

    started = time.monotonic()
    assert server.stop() == 0
    _, alive = psutil.wait_procs(children, timeout=max(1.0, 20 - (time.monotonic() - started)))
    assert alive == [], [" ".join(p.cmdline()) for p in alive]
    assert time.monotonic() - started < 20
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{server.url}/healthz", timeout=2)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match
    return match.group(1)


def test_createuser_then_sign_in_over_http(server: Server) -> None:
    result = subprocess.run(
        [ONBOARDING, "createuser", "--email", "Grace@Example.com", "--password", PASSWORD, "--no-input"],
        env=env_for(server.instance),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "Added to organization: default" in result.stdout
    assert "User created: grace@example.com" in result.stdout

    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    status, page, _ = _get(f"{server.url}/auth/login/", opener)
    assert status == 200

    def post(password: str) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(
            {"op": "login", "username": "grace@example.com", "password": password, "csrf_token": _csrf(page)}
        ).encode()
        try:
            with opener.open(f"{server.url}/auth/login/", data=data, timeout=15) as resp:
                return resp.status, resp.read().decode(), resp.geturl()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode(), f"{server.url}/auth/login/"

    status, body, _ = post("wrong password")
    assert status == 422
    assert "Please enter a correct email and password." in body

    status, body, final = post(PASSWORD)
    assert status == 200
    assert final == f"{server.url}/organizations/default/"
    assert "grace@example.com" in body
    children = server.descendants()
    assert server.stop(signal.SIGINT) == 0  # Ctrl-C
    _, alive = psutil.wait_procs(children, timeout=20)
    assert alive == []


def test_base_url_from_instance_config_is_kept(tmp_path: Path) -> None:
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('BASE_URL = "https://onboarding.example.com"\n')
    srv = Server(instance, free_port())
    try:
        link = srv.wait_for(r"Create one at: (\S+)").group(1)
        assert link.startswith("https://onboarding.example.com/setup/")
        srv.wait_for(r"running at")
    finally:
        assert srv.stop() == 0
