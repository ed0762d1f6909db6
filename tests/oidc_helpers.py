"""A real OpenID Connect provider (npm ``oidc-provider`` on Node.js) on loopback, and a driver for it.

``oidc_provider`` (session fixture) installs the package into ``tests/oidc/node_modules`` when missing,
starts ``tests/oidc/provider.mjs`` on a free port and stops it at the end of the run. Without Node.js the
tests that use it are skipped with the reason, unless ``ONBOARDING_REQUIRE_NODE=1`` (CI) makes them fail.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
import requests

from tests.conftest import free_port

OIDC_DIR = Path(__file__).parent / "oidc"
APP_BASE = "http://onboarding.test"
SLUGS = ("acme", "beta")


@dataclass
class OP:
    issuer: str
    clients: dict[str, dict[str, Any]]  # by organization slug


def _missing(what: str) -> None:
    """Without Node.js the SSO tests skip (saying why), except where ONBOARDING_REQUIRE_NODE=1 (CI)."""
    message = f"{what} is needed to run the test OpenID Connect provider"
    if os.environ.get("ONBOARDING_REQUIRE_NODE") == "1":
        pytest.fail(f"{message} (ONBOARDING_REQUIRE_NODE=1)")
    pytest.skip(f"{message}; install Node.js and npm to run the single-sign-on tests")


def _install() -> None:
    if (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        _missing("npm")
    subprocess.run(
        [npm, "install", "--no-package-lock", "--prefix", str(OIDC_DIR), "--silent"],
        check=True,
        timeout=300,
    )


@pytest.fixture(scope="session", name="oidc_provider")
def oidc_provider_fixture() -> Iterator[OP]:
    node = shutil.which("node")
    if node is None:
        _missing("Node.js")
        return
    _install()
    port = free_port()
    clients = {
        slug: {
            "client_id": f"{slug}-client",
            "client_secret": f"{slug}-secret-{os.urandom(8).hex()}",
            "redirect_uris": [f"{APP_BASE}/auth/sso/{slug}/callback/"],
        }
        for slug in SLUGS
    }
    folder = Path(tempfile.mkdtemp(prefix="onboarding-op-"))
    (folder / "clients.json").write_text(json.dumps(list(clients.values())))
    proc = subprocess.Popen(
        [node, str(OIDC_DIR / "provider.mjs"), str(port), str(folder / "clients.json")],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=OIDC_DIR,
    )
    try:
        assert proc.stdout is not None
        deadline = time.time() + 30
        line = ""
        while time.time() < deadline:
            line = proc.stdout.readline()
            if line.startswith("ready ") or proc.poll() is not None:
                break
        if not line.startswith("ready "):
            pytest.fail(f"the test OpenID Connect provider did not start: {line!r}")
        yield OP(issuer=line.split()[1], clients=clients)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(folder, ignore_errors=True)


def op_sign_in(authorization_url: str, account: str, *, app_base: str = APP_BASE) -> str:
    """Sign in at the provider as ``account``; returns the redirect back to the app (code + state)."""
    browser = requests.Session()
    url = authorization_url
    for _ in range(12):
        if url.startswith(app_base):
            return url
        resp = browser.get(url, allow_redirects=False, timeout=10)
        if resp.status_code == 200 and 'id="op-login-form"' in resp.text:
            resp = browser.post(url, data={"login": account}, allow_redirects=False, timeout=10)
        if resp.status_code not in (302, 303):
            raise AssertionError(f"provider answered {resp.status_code}: {resp.text[:300]}")
        url = urljoin(url, resp.headers["Location"])
    raise AssertionError("too many redirects at the provider")


def configure(org: Any, owner: Any, op: OP, *, slug: str | None = None, **kw: Any) -> Any:
    """Set up ``org``'s provider through the service (reads the real discovery document)."""
    from onboarding.extensions import db
    from onboarding.sso import service as sso

    client = op.clients[slug or org.slug]
    options: dict[str, Any] = {
        "name": "Acme ID",
        "issuer": op.issuer,
        "client_id": client["client_id"],
        "client_secret": client["client_secret"],
        "required": True,
        "default_role": "member",
        "allow_jit": False,
        **kw,
    }
    provider = sso.configure(org, actor=owner, ip=None, timeout=10, **options)
    db.session.commit()
    return provider


def start(client: Any, slug: str) -> str:
    resp = client.post(f"/auth/sso/{slug}/")
    assert resp.status_code == 303, resp.get_data(as_text=True)[:500]
    return str(resp.headers["Location"])


def sso_login(client: Any, slug: str, account: str) -> Any:
    """The whole dance through the Flask test client and the real provider; returns the callback answer."""
    back = op_sign_in(start(client, slug), account)
    return client.get(back.removeprefix(APP_BASE))
