"""A test run leaves nothing behind in the temporary folder (run folders, stacks folder, screenshots)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("parallel", [[], ["-n", "2"]], ids=["one-process", "two-processes"])
def test_a_run_cleans_up_after_itself(tmp_path: Path, parallel: list[str]) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ONBOARDING_", "PYTEST_"))}
    env["TMPDIR"] = str(tmp)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:randomly",
            f"--basetemp={tmp_path / 'basetemp'}",
            *parallel,
            "tests/test_sso_requirements.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=170,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert sorted(p.name for p in tmp.iterdir()) == []
