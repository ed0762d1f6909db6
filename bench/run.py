"""``make bench``: every performance figure of the product beside its goal, in one run.

Not a test. ``python bench/run.py [--quick] [--skip files,invites,serve] [--pg ADMIN_URL]``

Sections (each also runs alone; see bench/README.md):

- ``bench/pages.py``: server CPU per request of the sign-in page beside a bare Flask app and
  Flask-Security-Too's login page (interleaved rounds, in-process CPU time), the sign-in POST split,
  a throttled attempt, the page's weight, and a web process's memory;
- ``bench/files.py``: a 100 MiB ``putfile`` beside a raw write + SHA-1, the identical re-save, memory;
- ``bench/invites.py``: invite accepts per second on PostgreSQL (a database the run creates and drops),
  CPU per accept in the web and job processes, accept → receivers done;
- ``serve`` ready: a migrated instance, from the command to the first answer of ``/healthz``.

CPU figures are CPU time, which stays comparable on a shared machine; the wall-clock ones (accepts/s,
serve ready, MB/s) move with the machine's load, printed in the header.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_ready(samples: int = 3) -> list[float]:
    """Seconds from ``onboarding serve`` to its first /healthz answer, on an already migrated instance."""
    onboarding = str(Path(sys.executable).with_name("onboarding"))
    times = []
    instance = Path(tempfile.mkdtemp(prefix="onboarding-bench-serve-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env["ONBOARDING_INSTANCE_PATH"] = str(instance)
    try:
        subprocess.run(  # migrates
            [
                onboarding,
                "createuser",
                "--email",
                "a@example.com",
                "--password",
                "bench serve passphrase",
                "--no-input",
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        for _ in range(samples):
            port = _free_port()
            t0 = time.monotonic()
            proc = subprocess.Popen(
                [onboarding, "serve", "--port", str(port)],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            try:
                while time.monotonic() - t0 < 60:
                    try:
                        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:  # noqa: S310
                            if r.status == 200:
                                break
                    except OSError:
                        time.sleep(0.05)
                times.append(time.monotonic() - t0)
            finally:
                os.killpg(proc.pid, 15)
                try:
                    proc.wait(30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, 9)
                    proc.wait()
    finally:
        shutil.rmtree(instance, ignore_errors=True)
    return times


def _summary(output: str, prefix: str) -> list[str]:
    return [line.split(":", 1)[1].strip() for line in output.splitlines() if line.startswith(prefix)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and smaller sizes (a smoke run)")
    parser.add_argument("--skip", default="", help="comma-separated: pages,files,invites,serve")
    parser.add_argument("--pg", default=DEFAULT_PG, help="PostgreSQL admin database URL for the invite bench")
    args = parser.parse_args()
    skip = set(filter(None, args.skip.split(",")))
    table: list[tuple[str, str, str]] = []
    started = time.monotonic()
    load_before = os.getloadavg()[0]

    if "pages" not in skip:
        from bench import pages

        print("[pages] sign-in page, POST split, weight, memory…", flush=True)
        result = pages.measure(3 if args.quick else 9, 100 if args.quick else 300, 3 if args.quick else 8)
        table += pages.rows(result)
    if "invites" not in skip:
        print("[invites] accepts on PostgreSQL (a database of its own)…", flush=True)
        n = ["--n", "60", "--paced", "30"] if args.quick else []
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "invites.py"), "--no-sqlite", "--pg", args.pg, *n],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        found = _summary(out.stdout, "SUMMARY invites")
        value = found[0] if found else f"did not run: {(out.stdout + out.stderr).strip()[-300:]}"
        table.append(
            (
                "invite accepts, PostgreSQL, 2 web workers",
                value,
                ">= 200/s; accept -> receivers done p95 <= 500 ms at 100/s",
            )
        )
    if "files" not in skip:
        print("[files] 100 MiB putfile…", flush=True)
        size = ["--size-mib", "20", "--repeat", "1"] if args.quick else ["--size-mib", "100", "--repeat", "3"]
        out = subprocess.run(
            [sys.executable, str(ROOT / "bench" / "files.py"), "--backend", "folder", *size],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        found = _summary(out.stdout, "SUMMARY putfile")
        value = found[0] if found else f"did not run: {(out.stdout + out.stderr).strip()[-300:]}"
        table.append(
            (
                "putfile vs raw write + SHA-1",
                value,
                ">= 0.70; <= 3 MiB; the re-save reads no more than it must",
            )
        )
    if "serve" not in skip:
        print("[serve] ready on a migrated instance…", flush=True)
        times = serve_ready(1 if args.quick else 3)
        table.append(
            (
                "`serve` ready on a migrated instance",
                " / ".join(f"{t:.1f} s" for t in times) + " (wall clock)",
                "<= 2 s",
            )
        )

    print(
        f"\nOnboarding benchmark ({os.cpu_count()} CPUs, load average {load_before:.1f} at the start, "
        f"{os.getloadavg()[0]:.1f} at the end; {time.monotonic() - started:.0f} s)\n"
    )
    for figure, value, goal in table:
        print(f"{figure}\n    now:  {value}\n    goal: {goal}")
    if re.search(r"did not run", "".join(v for _, v, _ in table)):
        sys.exit(1)


if __name__ == "__main__":
    main()
