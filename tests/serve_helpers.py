"""Running ``onboarding serve`` as a subprocess for end-to-end tests (serve, browser)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

ONBOARDING = str(Path(sys.executable).with_name("onboarding"))
PASSWORD = "a long enough passphrase"


def env_for(instance: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONBOARDING_")}
    env["ONBOARDING_INSTANCE_PATH"] = str(instance)
    env.update(extra)
    return env


class Server:
    """A running ``onboarding serve``; its output is collected line by line."""

    def __init__(self, instance: Path, port: int, **env: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.instance = instance
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            [ONBOARDING, "serve", "--port", str(port)],
            env=env_for(instance, **env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, pattern: str, timeout: float = 90) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                match = re.search(pattern, line)
                if match:
                    return match
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"no line matching {pattern!r}; output:\n" + "\n".join(self.lines[-60:]))

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.proc.pid).children(recursive=True)

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill_all()
            raise

    def kill_all(self) -> None:
        for child in self.descendants() if self.proc.poll() is None else []:
            child.kill()
        self.proc.kill()
