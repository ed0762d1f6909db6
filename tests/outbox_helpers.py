"""A plug-in outbox receiver for the killed-worker test: it writes its effect, then (the first time) waits
long enough to be killed mid-job. Registered through OUTBOX_EXTRA_RECEIVERS."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from onboarding.audit import service as audit


def _slow(payload: dict[str, Any], message_id: int) -> None:
    audit.record(
        "test.slow-receiver", organization_id=payload["organization_id"], data={"message": message_id}
    )
    # Only in the worker process the test starts (it sets the marker's path); never in the test itself.
    raw = os.environ.get("SLOW_RECEIVER_MARKER")
    marker = Path(raw) if raw else None
    if marker is not None and marker.parent.exists() and not marker.exists():
        marker.write_text(str(os.getpid()))
        time.sleep(60)  # killed here, before its receipt commits


SLOW = ("member_joined", "slow_test_receiver", _slow)
