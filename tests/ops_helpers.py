"""Helpers for the operations tests: a job that fails, a mail folder reader."""

from __future__ import annotations

from email import message_from_bytes
from email.message import Message
from pathlib import Path


class ReportFailure(Exception):
    pass


def failing_job(report_id: int) -> None:
    raise ReportFailure(f"report {report_id} could not be built")


def mails(folder: Path) -> list[Message]:
    if not folder.exists():
        return []
    return [message_from_bytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def logging_job(report_id: int) -> None:
    import logging

    logging.getLogger("onboarding.reports").info("building report %s", report_id)
