"""serve's supervisor: a child that dies is restarted after a back-off that doubles up to 30 s, starts
again from 1 s once the child had run for a minute, and every restart is logged."""

from __future__ import annotations

import subprocess

import pytest

from onboarding import serve as serving


def test_backoff_doubles_up_to_30_s_and_resets_after_a_stable_minute(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [1000.0]
    monkeypatch.setattr(serving.time, "monotonic", lambda: now[0])
    started: list[subprocess.Popen[bytes]] = []

    def start() -> subprocess.Popen[bytes]:
        proc = subprocess.Popen(["false"])  # dies at once, with code 1
        proc.wait()
        started.append(proc)
        return proc

    supervisor = serving.Supervisor()
    child = supervisor.add("job worker", start)
    delays = []
    for _ in range(7):
        supervisor.check()  # notices the exit and schedules the restart
        assert child.restart_at is not None
        delays.append(child.restart_at - now[0])
        supervisor.check()  # not yet
        assert len(started) == len(delays)
        now[0] = child.restart_at
        supervisor.check()  # restarts it
    assert delays == [1, 2, 4, 8, 16, 30, 30]
    assert child.restarts == 7 and len(started) == 8

    now[0] += serving.STABLE_AFTER  # this time it ran a minute before it died
    supervisor.check()
    assert child.restart_at is not None and child.restart_at - now[0] == 1

    err = capsys.readouterr().err
    assert "job worker exited with code 1; restarting it in 1 s" in err
    assert "job worker exited with code 1; restarting it in 30 s" in err
    assert err.count("job worker restarted (pid ") == 7


def test_a_start_that_fails_is_tried_again_later(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    now = [1000.0]
    monkeypatch.setattr(serving.time, "monotonic", lambda: now[0])
    attempts = []

    def start() -> subprocess.Popen[bytes]:
        attempts.append(now[0])
        if len(attempts) > 1:
            raise RuntimeError("embedded Redis did not start in time")
        proc = subprocess.Popen(["false"])
        proc.wait()
        return proc

    supervisor = serving.Supervisor()
    child = supervisor.add("embedded Redis", start)
    supervisor.check()
    now[0] = child.restart_at or 0
    supervisor.check()  # the restart fails: scheduled again, serve goes on
    assert len(attempts) == 2 and child.restart_at == now[0] + 2
    assert "embedded Redis could not start (embedded Redis did not start in time); trying again in 2 s" in (
        capsys.readouterr().err
    )
