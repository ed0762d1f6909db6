"""Several machines on one PostgreSQL and one Redis, exactly as the README's "Running on PostgreSQL and Redis
with several workers" says: two web servers and two job workers as separate processes. 100 invites are
accepted over both web servers while one worker is killed; every effect happens exactly once.

Runs where the suite runs on PostgreSQL and Redis (CI's second pass); skipped on SQLite.
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from tests.conftest import free_port

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
INVITES = 100
PASSWORD = "a long enough passphrase"


def readme_commands() -> dict[str, list[str]]:
    """The commands of the README's section, by what they start: ``upgrade``, ``web``, ``worker``."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running on PostgreSQL and Redis with several workers", 1)[1]
    block = section.split("```sh", 1)[1].split("```", 1)[0]
    commands: dict[str, list[str]] = {}
    for line in block.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line.startswith(".venv/bin/"):
            continue
        argv = shlex.split(line)
        argv[0] = str(BIN / argv[0].removeprefix(".venv/bin/"))
        kind = "web" if "gunicorn" in argv[0] else argv[-1]
        commands[kind] = argv
    assert set(commands) == {"upgrade", "web", "worker"}, commands
    return commands


@pytest.fixture
def machines_env(app: Any, database_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    if not database_url.startswith("postgresql") or not redis_url.startswith("redis://"):
        pytest.skip("needs PostgreSQL and Redis (ONBOARDING_TEST_DATABASE_URL, ONBOARDING_TEST_REDIS_URL)")
    folder = Path(tempfile.mkdtemp(prefix="onb-machines-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env.update(
        ONBOARDING_DATABASE_URL=database_url,
        ONBOARDING_REDIS_URL=redis_url,
        ONBOARDING_SECRET_KEY="the same on every machine",
        ONBOARDING_BASE_URL="http://onboarding.test",
        ONBOARDING_MAIL_URL=f"file://{folder / 'mail'}",
        ONBOARDING_ARGON2_TIME_COST="1",
        ONBOARDING_ARGON2_MEMORY_COST="8",
        ONBOARDING_LOGIN_PAGE_VIEWS_PER_SECOND="1000",  # every visitor here comes from 127.0.0.1
        ONBOARDING_OUTBOX_LEASE_SECONDS="5",  # what the killed worker held is taken over 5 s later
        ONBOARDING_OUTBOX_SWEEP_SECONDS="2",
    )
    env["_FOLDER"] = str(folder)
    try:
        yield env
    finally:
        shutil.rmtree(folder, ignore_errors=True)


class Machine:
    def __init__(self, name: str, argv: list[str], env: dict[str, str], folder: Path) -> None:
        self.name = name
        self.log = folder / f"{name}.log"
        instance = folder / name  # each machine has its own instance folder
        self.proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**env, "ONBOARDING_INSTANCE_PATH": str(instance)},
            stdout=self.log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def _wait_up(url: str, machine: Machine, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        assert machine.proc.poll() is None, machine.log.read_text(errors="replace")
        try:
            if requests.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        assert time.monotonic() < deadline, machine.log.read_text(errors="replace")
        time.sleep(0.3)


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf-token" content="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def _text(resp: requests.Response) -> str:
    main = resp.text.split("<main", 1)[-1]
    return f"{resp.status_code} {resp.url}: " + re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))[:800]


def _accept(sign_in_at: str, accept_at: str, user_email: str, member_id: int, token: str) -> None:
    """Sign in on one web server and accept the invite on the other (or the same)."""
    browser = requests.Session()
    page = browser.get(f"{sign_in_at}/auth/login/", timeout=30)
    assert page.status_code == 200
    form = {"op": "login", "username": user_email, "password": PASSWORD, "csrf_token": _csrf(page.text)}
    signed_in = browser.post(f"{sign_in_at}/auth/login/", data=form, timeout=30)
    # Signed in, and not a member of anything yet: the "you don't belong to any organization" page.
    assert "/auth/login/" not in signed_in.url, _text(signed_in)
    accepted = browser.post(
        f"{accept_at}/accept/{member_id}/{token}/", data={"csrf_token": _csrf(signed_in.text)}, timeout=30
    )
    assert accepted.status_code == 200 and accepted.url.endswith("/organizations/default/"), _text(accepted)


def test_two_web_servers_and_two_workers_accept_100_invites_exactly_once(
    app: Any, machines_env: dict[str, str]
) -> None:
    from onboarding.extensions import db
    from onboarding.orgs.models import OrganizationMember
    from onboarding.orgs.onboarding_tasks import OrganizationOnboardingTask
    from onboarding.outbox.models import OutboxMessage, OutboxReceipt
    from tests.factories import default_org, make_invite, make_member, make_user

    folder = Path(machines_env.pop("_FOLDER"))
    org = default_org()
    owner = make_user("owner@example.com", password=PASSWORD)
    make_member(org, owner, role="owner")
    invites = []
    for i in range(INVITES):
        invitee = f"member{i:03d}@example.com"
        make_user(invitee, password=PASSWORD, name=f"Member {i:03d}")
        member, raw = make_invite(org, invitee, inviter=owner)
        invites.append((invitee, member.id, raw))
    org_id, owner_email = org.id, owner.email
    db.session.remove()

    commands = readme_commands()
    upgrade = subprocess.run(
        commands["upgrade"], cwd=ROOT, env=machines_env, capture_output=True, text=True, timeout=120
    )
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    ports = [free_port(), free_port()]
    machines = [
        Machine(f"web{n}", [*commands["web"], "--bind", f"127.0.0.1:{port}"], machines_env, folder)
        for n, port in enumerate(ports)
    ] + [Machine(f"worker{n}", commands["worker"], machines_env, folder) for n in range(2)]
    urls = [f"http://127.0.0.1:{port}" for port in ports]
    try:
        for url, machine in zip(urls, machines, strict=False):
            _wait_up(url, machine)

        done = Counter[str]()
        lock = threading.Lock()

        def one(i: int) -> None:
            invitee, member_id, raw = invites[i]
            # Half sign in on one server and accept on the other: sessions are shared through the database.
            _accept(urls[i % 2], urls[(i // 2) % 2], invitee, member_id, raw)
            with lock:
                done["accepted"] += 1

        killed = threading.Event()

        def kill_one_worker() -> None:
            while done["accepted"] < INVITES // 3:
                time.sleep(0.05)
            os.killpg(machines[2].proc.pid, signal.SIGKILL)  # the worker and its scheduler, mid-run
            killed.set()

        killer = threading.Thread(target=kill_one_worker, daemon=True)
        killer.start()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(one, range(INVITES)))
        assert killed.wait(10) and machines[2].proc.wait(timeout=10) == -signal.SIGKILL
        assert done["accepted"] == INVITES

        # Everything the joins caused is delivered by the surviving worker, each exactly once.
        mail_dir = folder / "mail"
        deadline = time.monotonic() + 60
        while True:
            with app.app_context():
                waiting = db.session.scalar(select(func.count(OutboxMessage.id)))
                db.session.remove()
            joined_mails = [
                m
                for m in (
                    email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
                    for p in mail_dir.glob("*.eml")
                )
                if "joined" in str(m["Subject"])
            ]
            if waiting == 0 and len(joined_mails) >= INVITES:
                break
            assert time.monotonic() < deadline, f"{waiting} outbox message(s) left, {len(joined_mails)} mails"
            time.sleep(0.5)
        time.sleep(3)  # a duplicate would come now, if any were due
        with app.app_context():
            members = db.session.scalars(
                select(OrganizationMember).where(
                    OrganizationMember.organization_id == org_id, OrganizationMember.user_id.is_not(None)
                )
            ).all()
            receipts = Counter(
                db.session.scalars(
                    select(OutboxReceipt.receiver).where(
                        OutboxReceipt.receiver.in_(("onboarding_task", "notify_inviter"))
                    )
                )
            )
            task = db.session.scalars(
                select(OrganizationOnboardingTask).where(OrganizationOnboardingTask.organization_id == org_id)
            ).all()
            db.session.remove()
        assert len(members) == INVITES + 1  # the 100 who joined, and the owner
        assert len({m.user_id for m in members}) == INVITES + 1
        # The member-joined effects: each of the two receivers applied each of the 100 messages once.
        assert receipts == {"onboarding_task": INVITES, "notify_inviter": INVITES}
        assert task, "the organization's invite-a-member task was not completed"
        # One email to the inviter per member who joined, never two.
        mails = [
            email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
            for p in mail_dir.glob("*.eml")
        ]
        joined = Counter(str(m["Subject"]) for m in mails if "joined" in str(m["Subject"]))
        assert all(str(m["To"]) == owner_email for m in mails if "joined" in str(m["Subject"]))
        assert joined == {f"Member {i:03d} joined Default": 1 for i in range(INVITES)}, joined.most_common(3)
    finally:
        for machine in machines:
            machine.stop()
