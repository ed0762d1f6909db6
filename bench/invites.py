"""Benchmark: invite accepts per second, and the delay from accept to the member-joined receivers.

Not a test. Run from the checkout:  .venv/bin/python bench/invites.py [--pg URL | --no-pg] [--n 400]

For each database (SQLite in a temporary instance folder; PostgreSQL when reachable) it:

1. migrates a clean schema and seeds, in this process, N + M organizations, each with an owner (the
   inviter) and one pending invite to a user who already has an account;
2. starts ``onboarding serve --workers 2 --threads 4`` (gunicorn gthread, 2 x 4 threads, a real
   ``onboarding worker`` process, an embedded Redis), mail going to a ``file://`` folder;
3. signs every invitee in over HTTP and opens their invite page (for the CSRF token) — not timed;
4. **throughput**: the N accept POSTs (``POST /accept/<id>/<token>/``), sent by a bounded pool of threads
   (``http.client``, keep-alive), each answer checked to be the 303 into the organization;
5. **delay** from each accept's response to the member-joined receivers having run, found by polling the
   database: the organization's "invite a member" task completed by the first receiver (its
   ``date_completed``), and the "joined" email to the inviter that the second receiver queues, written
   by the worker (the .eml file's time). Reported for the burst of step 4 (the worker works through a
   backlog) and for M accepts paced at a steady low rate (an idle worker).

Every phase has a deadline; the whole run stays within about three minutes. One organization per invite
keeps each measurement exact: the task row and the email each name exactly one accept.
"""

from __future__ import annotations

import argparse
import http.client
import os
import queue
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
# The server's admin database: the run creates a database of its own there and drops it at the end.
DEFAULT_PG = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
GOAL_RATE = 200  # accepts/s (issue: PostgreSQL, 2 web workers)
GOAL_P95_MS = 500  # accept → receivers done, p95, at 100 accepts/s
PASSWORD = "bench horse battery staple"
CHEAP_HASHING = {"ONBOARDING_ARGON2_TIME_COST": "1", "ONBOARDING_ARGON2_MEMORY_COST": "8"}
THREADS = 16
WEB_WORKERS, WEB_THREADS = 2, 4


# --- plumbing ----------------------------------------------------------------------------------------


def quiet() -> None:
    """The app's INFO logging (and alembic's) would drown the figures."""
    import logging

    for name in ("", "alembic", "onboarding"):
        logging.getLogger(name).setLevel(logging.WARNING)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pg_reachable(url: str) -> str | None:
    """None when PostgreSQL answers (three tries: a busy shared server may refuse for a moment), else why."""
    import psycopg

    dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
    reason = "unknown"
    for _ in range(3):
        try:
            with psycopg.connect(dsn, connect_timeout=5):
                return None
        except Exception as exc:  # noqa: BLE001 - any failure means "not now"
            reason = f"{type(exc).__name__}: {exc}".strip()
            time.sleep(1)
    return reason


class Client:
    """One keep-alive connection with one cookie: a signed-in browser, minus the browser."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, form: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        body = None
        if form is not None:
            body = urllib.parse.urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                text = resp.read().decode("utf-8", "replace")
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt == 2:
                    raise
        for value in resp.headers.get_all("Set-Cookie") or []:
            name, _, rest = value.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, text

    def close(self) -> None:
        self.conn.close()


def csrf_in(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    if not match:
        raise RuntimeError("no CSRF token on the page")
    return match.group(1)


def run_pool(items: list[Any], work: Callable[[Any], None], threads: int, deadline: float) -> int:
    """Run ``work(item)`` for each item on ``threads`` threads; stop taking items at ``deadline``."""
    todo: queue.Queue[Any] = queue.Queue()
    for item in items:
        todo.put(item)
    done = [0]
    lock = threading.Lock()
    errors: list[BaseException] = []

    def loop() -> None:
        while time.monotonic() < deadline:
            try:
                item = todo.get_nowait()
            except queue.Empty:
                return
            try:
                work(item)
                with lock:
                    done[0] += 1
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    pool = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=max(0.0, deadline - time.monotonic()) + 35)
    if errors:
        raise RuntimeError(f"{len(errors)} request(s) failed; first: {errors[0]!r}") from errors[0]
    return done[0]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


# --- one run -----------------------------------------------------------------------------------------


@dataclass
class Invite:
    index: int
    member_id: int
    token: str
    email: str
    org_id: int
    slug: str
    owner_email: str
    client: Client | None = None
    csrf: str = ""
    sent_at: float = 0.0  # wall clock (time.time()) when the accept was sent
    answered_at: float = 0.0  # … and when its response had been read


@dataclass
class Result:
    label: str
    accepted: int = 0
    seconds: float = 0.0
    burst_task: list[float] = field(default_factory=list)
    burst_mail: list[float] = field(default_factory=list)
    paced_task: list[float] = field(default_factory=list)
    paced_mail: list[float] = field(default_factory=list)
    missing: int = 0
    burst: list[Invite] = field(default_factory=list)
    web_cpu: float = 0.0  # CPU seconds the web processes spent during the burst
    worker_cpu: float = 0.0  # … and the job worker, until the burst's receivers were done


def cpu_by_role(proc: subprocess.Popen[bytes]) -> dict[str, float]:
    """CPU seconds (user + system) so far of serve's web processes and of its job worker."""
    import psutil

    totals = {"web": 0.0, "worker": 0.0}
    for child in psutil.Process(proc.pid).children(recursive=True):
        try:
            cmd = " ".join(child.cmdline())
            times = child.cpu_times()
        except psutil.Error:
            continue
        role = "web" if "gunicorn" in cmd else ("worker" if "worker" in cmd else None)
        if role:
            totals[role] += times.user + times.system
    return totals


def seed(env: dict[str, str], count: int) -> list[Invite]:
    """Migrate the run's own (empty) database, then ``count`` organizations with an owner and one invite
    each (this process)."""
    os.environ.update(env)
    from flask_migrate import upgrade

    from onboarding import create_app
    from onboarding.accounts import service as accounts
    from onboarding.extensions import db, utcnow
    from onboarding.invites import tokens
    from onboarding.orgs import onboarding_tasks
    from onboarding.orgs import service as orgs
    from onboarding.orgs.models import InviteStatus, OrganizationMember
    from onboarding.passwords import hash_password

    app = create_app()
    quiet()
    invites: list[Invite] = []
    with app.app_context():
        upgrade()
        password_hash = hash_password(PASSWORD)  # the same for everyone: seeding stays quick
        expires = utcnow().replace(year=utcnow().year + 1)
        for i in range(count):
            owner = accounts.create_user(f"owner{i}@bench.test", name=f"Owner {i}")
            invitee = accounts.create_user(f"invitee{i}@bench.test", name=f"Invitee {i}")
            owner.password_hash = invitee.password_hash = password_hash
            org = orgs.create_organization(f"Bench {i}", slug=f"bench-{i}")
            orgs.add_member(org, owner, role="owner")
            raw, digest = tokens.new_token()
            member = OrganizationMember(
                organization_id=org.id,
                email=invitee.email,
                role="member",
                inviter_id=owner.id,
                token_hash=digest,
                invite_status=InviteStatus.APPROVED,
                token_expires_at=expires,
            )
            db.session.add(member)
            onboarding_tasks.record_pending(org.id, "invite_member", owner.id)
            db.session.flush()
            invites.append(Invite(i, member.id, raw, invitee.email, org.id, org.slug, owner.email))
            if i % 100 == 99:
                db.session.commit()
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return invites


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "onboarding.cli", "serve", "--port", str(port)]
        + ["--workers", str(WEB_WORKERS), "--threads", str(WEB_THREADS)],
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("serve exited at start:\n" + log.read_text(errors="replace")[-3000:])
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    stop_server(proc)
    raise RuntimeError("serve did not answer within 60s")


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def sign_in_and_open(port: int) -> Callable[[Invite], None]:
    def work(inv: Invite) -> None:
        c = Client("127.0.0.1", port)
        status, _, page = c.request("GET", "/auth/login/")
        form = {"op": "login", "username": inv.email, "password": PASSWORD, "csrf_token": csrf_in(page)}
        status, headers, _ = c.request("POST", "/auth/login/", form)
        if status != 303:
            raise RuntimeError(f"sign-in of {inv.email} answered {status}")
        status, _, page = c.request("GET", f"/accept/{inv.member_id}/{inv.token}/")
        if status != 200 or 'id="accept-form"' not in page:
            raise RuntimeError(f"invite page for {inv.email} answered {status}")
        inv.client, inv.csrf = c, csrf_in(page)

    return work


def accept(inv: Invite) -> None:
    assert inv.client is not None
    inv.sent_at = time.time()
    status, headers, _ = inv.client.request(
        "POST", f"/accept/{inv.member_id}/{inv.token}/", {"csrf_token": inv.csrf}
    )
    inv.answered_at = time.time()
    if status != 303 or headers.get("location") != f"/organizations/{inv.slug}/":
        raise RuntimeError(f"accept {inv.member_id} answered {status} {headers.get('location')}")
    inv.client.close()


def completions(
    app: Any, mail_dir: Path, invites: list[Invite], timeout: float
) -> tuple[dict[int, float], dict[str, float]]:
    """Poll until every invite's task is complete and every inviter has the "joined" email (or timeout).

    Returns {org id: task completed (epoch)} and {inviter email: joined email written (epoch)}.
    """
    from sqlalchemy import select

    from onboarding.database import write_intent
    from onboarding.extensions import db
    from onboarding.orgs.onboarding_tasks import OrganizationOnboardingTask, TaskStatus

    wanted_orgs = {inv.org_id for inv in invites}
    wanted_owners = {inv.owner_email for inv in invites}
    tasks: dict[int, float] = {}
    mails: dict[str, float] = {}
    seen_files: set[str] = set()
    deadline = time.monotonic() + timeout
    with app.app_context(), write_intent(False):  # read only: never hold SQLite's write lock
        while time.monotonic() < deadline:
            rows = db.session.execute(
                select(
                    OrganizationOnboardingTask.organization_id, OrganizationOnboardingTask.date_completed
                ).where(
                    OrganizationOnboardingTask.status == TaskStatus.COMPLETE,
                    OrganizationOnboardingTask.organization_id.in_(wanted_orgs),
                )
            ).all()
            db.session.rollback()
            for org_id, when in rows:
                if when is not None:
                    tasks[org_id] = when.replace(tzinfo=UTC).timestamp()
            if mail_dir.exists():
                for path in mail_dir.glob("*.eml"):
                    if path.name in seen_files:
                        continue
                    seen_files.add(path.name)
                    msg = message_from_bytes(path.read_bytes(), policy=email_policy)
                    to = str(msg["To"])
                    if to in wanted_owners and "joined" in str(msg["Subject"]):
                        mails[to] = float(path.name.split("-", 1)[0])  # the transport's write time
            if wanted_orgs <= tasks.keys() and wanted_owners <= mails.keys():
                break
            time.sleep(0.1)
        db.session.remove()
    return tasks, mails


def collect(
    group: list[Invite],
    tasks: dict[int, float],
    mails: dict[str, float],
    result: Result,
    task_delays: list[float],
    mail_delays: list[float],
) -> None:
    for inv in group:
        if not inv.answered_at or inv.org_id not in tasks or inv.owner_email not in mails:
            result.missing += 1
            continue
        task_delays.append(tasks[inv.org_id] - inv.answered_at)
        mail_delays.append(mails[inv.owner_email] - inv.answered_at)


def run_backend(label: str, database_url: str | None, n: int, paced: int, rate: float) -> Result:
    """One run on ``database_url`` (a database this run created; None: SQLite in a temporary folder)."""
    folder = Path(tempfile.mkdtemp(prefix="onb-bench-"))
    mail_dir = folder / "mail"
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env.update(
        ONBOARDING_INSTANCE_PATH=str(folder / "instance"),
        ONBOARDING_BASE_URL=f"http://127.0.0.1:{port}",
        ONBOARDING_MAIL_URL=f"file://{mail_dir}",
        ONBOARDING_SECRET_KEY="bench-secret",
        ONBOARDING_SINGLE_ORGANIZATION="false",
        ONBOARDING_LOGIN_PAGE_VIEWS_PER_SECOND="1000000",  # every simulated user comes from 127.0.0.1
        **CHEAP_HASHING,
    )
    if database_url:
        env["ONBOARDING_DATABASE_URL"] = database_url
    for key in [k for k in os.environ if k.startswith("ONBOARDING_")]:
        del os.environ[key]
    result = Result(label)
    print(f"[{label}] seeding {n + paced} organizations with one invite each…", flush=True)
    invites = seed(env, n + paced)
    burst, steady = invites[:n], invites[n:]
    result.burst = burst
    proc = start_server(env, port, folder / "serve.log")
    try:
        print(f"[{label}] signing {len(invites)} invitees in and opening their invite pages…", flush=True)
        run_pool(invites, sign_in_and_open(port), THREADS, time.monotonic() + 60)

        print(f"[{label}] accepting {n} invites with {THREADS} client threads…", flush=True)
        time.sleep(1)  # let the worker finish whatever sign-in left for it
        cpu0 = cpu_by_role(proc)
        started = time.monotonic()
        result.accepted = run_pool(burst, accept, THREADS, started + 60)
        result.seconds = time.monotonic() - started
        result.web_cpu = cpu_by_role(proc)["web"] - cpu0["web"]

        from onboarding import create_app

        os.environ.update(env)
        app = create_app()
        quiet()
        # The burst's receivers first, so that the paced accepts meet an idle worker.
        tasks, mails = completions(app, mail_dir, burst, timeout=60)
        result.worker_cpu = cpu_by_role(proc)["worker"] - cpu0["worker"]
        collect(burst, tasks, mails, result, result.burst_task, result.burst_mail)

        print(f"[{label}] pacing {paced} more accepts at {rate:g}/s…", flush=True)
        next_at = time.monotonic()
        pacers: list[threading.Thread] = []
        for inv in steady:
            time.sleep(max(0.0, next_at - time.monotonic()))
            t = threading.Thread(target=accept, args=(inv,), daemon=True)
            t.start()
            pacers.append(t)
            next_at += 1 / rate
        for t in pacers:
            t.join(timeout=30)
        tasks, mails = completions(app, mail_dir, steady, timeout=30)
        collect(steady, tasks, mails, result, result.paced_task, result.paced_mail)
        with app.app_context():
            from onboarding.extensions import db

            db.engine.dispose()
    finally:
        stop_server(proc)
        for key in [k for k in os.environ if k.startswith("ONBOARDING_")]:
            del os.environ[key]
        if os.environ.get("BENCH_KEEP"):
            print(f"[{label}] kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)
    return result


def ms(values: list[float]) -> str:
    if not values:
        return "no data"
    return f"median {statistics.median(values) * 1000:7.1f} ms   p95 {pct(values, 95) * 1000:7.1f} ms"


def report(r: Result) -> None:
    rps = r.accepted / r.seconds if r.seconds else 0.0
    answer = [inv.answered_at - inv.sent_at for inv in r.burst if inv.answered_at]
    print(f"\n== {r.label}")
    print(
        f"accept throughput: {rps:7.1f} requests/s  ({r.accepted} accepts in {r.seconds:.2f} s, "
        f"{THREADS} client threads, gunicorn gthread {WEB_WORKERS}x{WEB_THREADS})"
    )
    print(f"accept response time under that load:                  {ms(answer)}")
    print(f"accept → invite task completed (1st receiver), burst:  {ms(r.burst_task)}")
    print(f"accept → inviter's 'joined' email written,      burst:  {ms(r.burst_mail)}")
    print(f"accept → invite task completed (1st receiver), paced:  {ms(r.paced_task)}")
    print(f"accept → inviter's 'joined' email written,      paced:  {ms(r.paced_mail)}")
    if r.accepted:
        print(
            f"CPU per accept: web {r.web_cpu / r.accepted * 1000:.1f} ms, job worker {r.worker_cpu / r.accepted * 1000:.1f} ms"
        )
    if r.missing:
        print(f"!! {r.missing} accept(s) not seen through to both receivers within the deadline")
    done = r.paced_mail or r.paced_task
    print(
        f"SUMMARY invites {r.label}: {rps:.0f} accepts/s (goal >= {GOAL_RATE}/s); web {r.web_cpu / max(r.accepted, 1) * 1000:.1f} ms "
        f"+ job worker {r.worker_cpu / max(r.accepted, 1) * 1000:.1f} ms CPU per accept; accept → receivers done p95 "
        f"{pct(done, 95) * 1000 if done else float('nan'):.0f} ms when paced (goal <= {GOAL_P95_MS} ms at 100/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=150, help="accepts in the throughput burst")
    parser.add_argument("--paced", type=int, default=100, help="accepts at a steady rate afterwards")
    parser.add_argument("--rate", type=float, default=100.0, help="accepts per second when paced")
    parser.add_argument(
        "--pg",
        default=None,
        help=f"a PostgreSQL server's admin database URL (default {DEFAULT_PG} if reachable); "
        "the run creates its own database there and drops it at the end",
    )
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only")
    args = parser.parse_args()
    if args.n < 1 or args.paced < 1 or args.rate <= 0:
        parser.error("--n and --paced must be at least 1 and --rate above 0")

    backends: list[tuple[str, str | None]] = []
    if not args.no_sqlite:
        backends.append(("SQLite (WAL)", None))
    if not args.no_pg:
        url = args.pg or DEFAULT_PG
        why = pg_reachable(url)
        if why is None:
            backends.append(("PostgreSQL", url))
        elif args.pg:
            parser.error(f"cannot reach PostgreSQL at {url} ({why})")
        else:
            print(f"(PostgreSQL at {DEFAULT_PG} is not reachable: {why}; SQLite only)")
    started = time.monotonic()
    from bench.scratchdb import scratch_database

    results = []
    for label, url in backends:
        if url is None:
            results.append(run_backend(label, None, args.n, args.paced, args.rate))
            continue
        with scratch_database(url, "invites") as own:
            results.append(run_backend(label, own, args.n, args.paced, args.rate))
    for r in results:
        report(r)
    print(f"\n(total run {time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
