"""gunicorn settings that ``serve`` relies on (``gunicorn -c python:onboarding.gunicorn_hooks``).

- Each web process dies with the gunicorn master that forked it, however the master ends.
- When ``serve`` started gunicorn it passes a pipe (``ONBOARDING_SERVE_READY_FD``): the master writes
  ``bound`` once it holds the listening socket and each web process ``worker`` once it serves, so ``serve``
  knows that what answers on the port is the server it started.
"""

from __future__ import annotations

import contextlib
import os
from typing import Any

READY_FD_ENV = "ONBOARDING_SERVE_READY_FD"


def _tell(message: bytes) -> None:
    value = os.environ.get(READY_FD_ENV, "")
    if value.isdigit():
        # OSError: serve stopped listening (after start-up); nothing to tell.
        with contextlib.suppress(OSError):
            os.write(int(value), message)


def when_ready(server: Any) -> None:
    _tell(b"bound\n")


def post_fork(server: Any, worker: Any) -> None:
    from onboarding.processes import die_with_parent

    die_with_parent(server.pid)


def post_worker_init(worker: Any) -> None:
    _tell(b"worker\n")
