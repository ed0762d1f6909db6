"""Benchmark: requests per second of the sign-in page and of a bare route, and where a sign-in POST spends its time.

Not a test. One run starts the web server exactly as ``onboarding serve`` does (gunicorn, gthread,
2 workers x 4 threads) on a free loopback port, with a temporary instance folder, SQLite and an
embedded Redis, then:

1. drives ``GET /healthz`` (a bare route) and ``GET /auth/login/`` (a full page: session, CSRF token,
   template) with a bounded load generator: N client processes, each one keep-alive connection
   (http.client), for a fixed number of seconds;
2. times Argon2id verification alone with the production parameters (median of N);
3. times complete successful sign-in POSTs one at a time (median of N), each from a fresh session
   with its CSRF token, and reports the rest (POST minus hashing).

Usage: ``python bench/run.py [--clients 8] [--seconds 5] [--samples 25]`` (or ``make bench``).
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing as mp
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from onboarding import embedded_redis  # noqa: E402
from onboarding.cli import SERVE_THREADS, SERVE_WORKERS, gunicorn_command  # noqa: E402
from onboarding.config import DEFAULTS  # noqa: E402

EMAIL = "bench@example.com"
PASSWORD = "bench passphrase that is long enough"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with code {proc.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit("gunicorn did not answer in time")


# --- load generator -------------------------------------------------------------------------


def _client(port: int, path: str, seconds: float, start_at: float, out: mp.Queue) -> None:
    """One client: one keep-alive connection, requests back to back until the time is up."""
    while time.time() < start_at:
        time.sleep(0.001)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    while True:
        t0 = time.perf_counter()
        if t0 >= stop:
            break
        try:
            conn.request("GET", path)
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                errors += 1
            if resp.getheader("Connection", "").lower() == "close":
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        except (OSError, http.client.HTTPException):
            errors += 1
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            continue
        latencies.append(time.perf_counter() - t0)
    conn.close()
    out.put((latencies, errors))


def load(port: int, path: str, clients: int, seconds: float) -> dict[str, float]:
    out: mp.Queue = mp.Queue()
    start_at = time.time() + 0.5  # every client starts together
    procs = [mp.Process(target=_client, args=(port, path, seconds, start_at, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get(timeout=seconds + 60) for _ in procs]
    for p in procs:
        p.join(10)
    latencies = sorted(x for lat, _ in results for x in lat)
    errors = sum(e for _, e in results)
    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50": statistics.median(latencies) * 1000 if latencies else float("nan"),
        "p99": latencies[int(len(latencies) * 0.99) - 1] * 1000 if latencies else float("nan"),
        "errors": errors,
    }


# --- sign-in split --------------------------------------------------------------------------


def time_hashing(samples: int) -> tuple[float, str]:
    from argon2 import PasswordHasher, Type

    hasher = PasswordHasher(
        time_cost=DEFAULTS["ARGON2_TIME_COST"],
        memory_cost=DEFAULTS["ARGON2_MEMORY_COST"],
        parallelism=DEFAULTS["ARGON2_PARALLELISM"],
        type=Type.ID,
    )
    stored = hasher.hash(PASSWORD)
    times = []
    for _ in range(samples):
        t0 = time.perf_counter()
        hasher.verify(stored, PASSWORD)
        times.append(time.perf_counter() - t0)
    params = f"m={DEFAULTS['ARGON2_MEMORY_COST'] // 1024} MiB, t={DEFAULTS['ARGON2_TIME_COST']}, p={DEFAULTS['ARGON2_PARALLELISM']}"
    return statistics.median(times) * 1000, params


def time_sign_in(port: int, samples: int) -> float:
    times = []
    for _ in range(samples):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", "/auth/login/")
        resp = conn.getresponse()
        page = resp.read().decode()
        cookie = next(
            (
                c.split(";", 1)[0]
                for c in resp.msg.get_all("Set-Cookie") or []
                if c.startswith("onboarding_session=")
            ),
            "",
        )
        token = re.search(r'name="csrf-token" content="([^"]+)"', page)
        assert token and cookie, "sign-in page without a session cookie or CSRF token"
        body = urllib.parse.urlencode(
            {"op": "login", "username": EMAIL, "password": PASSWORD, "csrf_token": token.group(1)}
        )
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookie}
        t0 = time.perf_counter()
        conn.request("POST", "/auth/login/", body=body, headers=headers)
        resp = conn.getresponse()
        resp.read()
        elapsed = time.perf_counter() - t0
        if resp.status != 303:
            raise SystemExit(f"sign-in POST answered {resp.status}, expected 303")
        times.append(elapsed)
        conn.close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive clients")
    parser.add_argument("--seconds", type=float, default=5.0, help="duration of each load run")
    parser.add_argument("--samples", type=int, default=25, help="samples for the sign-in split")
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="onboarding-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env["ONBOARDING_INSTANCE_PATH"] = str(instance)
    # One client IP sends every request: lift the sign-in page's 20 views/s limit, or it measures 429s.
    env["ONBOARDING_LOGIN_PAGE_VIEWS_PER_SECOND"] = "1000000"
    redis = embedded_redis.start(instance, persist=False)
    env["ONBOARDING_REDIS_URL"] = embedded_redis.socket_url(instance)
    onboarding = str(Path(sys.executable).with_name("onboarding"))
    web = None
    try:
        # createuser also migrates the fresh SQLite database; the user gets the production hash.
        subprocess.run(
            [onboarding, "createuser", "--email", EMAIL, "--password", PASSWORD, "--no-input"],
            env=env,
            check=True,
            capture_output=True,
        )
        port = free_port()
        log = open(instance / "gunicorn.log", "wb")  # noqa: SIM115 - closed with the process
        cmd = gunicorn_command("127.0.0.1", port, workers=SERVE_WORKERS, threads=SERVE_THREADS)
        web = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_ready(port, web)
        for path in ("/healthz", "/auth/login/"):  # warm-up: imports, template compilation, pools
            load(port, path, args.clients, 1.0)

        bare = load(port, "/healthz", args.clients, args.seconds)
        page = load(port, "/auth/login/", args.clients, args.seconds)
        hashing, params = time_hashing(args.samples)
        post = time_sign_in(port, args.samples)
    finally:
        if web is not None:
            web.terminate()
            web.wait(20)
        redis.terminate()
        redis.wait(10)
        shutil.rmtree(instance, ignore_errors=True)

    cpus = os.cpu_count()
    load1 = os.getloadavg()[0]  # other work on the machine skews every figure below
    print(
        f"\nOnboarding benchmark: gunicorn gthread {SERVE_WORKERS} workers x {SERVE_THREADS} threads, SQLite, "
        f"embedded Redis; {args.clients} keep-alive clients x {args.seconds:g} s; {cpus} CPUs, "
        f"load average {load1:.1f}\n"
    )
    print(f"{'route':<22}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, r in (("GET /healthz", bare), ("GET /auth/login/", page)):
        print(f"{name:<22}{r['rps']:>10.0f}{r['p50']:>10.2f}{r['p99']:>10.2f}{r['errors']:>8d}")
    print(f"\nsign-in POST (median of {args.samples}, one at a time)")
    print(f"  {'whole POST':<36}{post:>8.1f} ms")
    print(f"  {'Argon2id verify (' + params + ')':<36}{hashing:>8.1f} ms  ({hashing / post:.0%})")
    print(f"  {'everything else':<36}{post - hashing:>8.1f} ms  ({(post - hashing) / post:.0%})")


if __name__ == "__main__":
    main()
