"""Job functions. RQ stores their dotted paths, so names here are a wire format: rename with care.

Each takes plain values or ids and calls services; each runs inside an application context.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def deliver_outbox(message_id: int, *more_ids: int) -> bool:
    """Deliver outbox messages, and in the same job those their receivers schedule (outbox.batch)."""
    from onboarding.outbox.batch import deliver_batch

    return deliver_batch([message_id, *more_ids])


def deliver_webhook(delivery_id: int) -> bool:
    """One attempt at a webhook delivery (on the ``webhooks`` queue: a slow endpoint delays no email)."""
    from onboarding.webhooks.delivery import attempt

    return attempt(delivery_id)


def flush_buffer() -> int:
    from onboarding import buffer

    return buffer.flush()


def periodic() -> None:
    """The sweep, as a job (kept for sweeps scheduled by earlier versions, which chained through Redis)."""
    sweep()


def sweep() -> None:
    """Deliver due outbox messages, flush counters, prune receipts, ask for the hourly clean-up.

    Every worker runs this from its own loop (:func:`onboarding.queue.run_worker`), not from a job kept
    in Redis, so a Redis that restarts without its data cannot stop it. The steps fail independently:
    with Redis down, outbox messages are still delivered from the database.
    """
    from onboarding import buffer
    from onboarding.extensions import db
    from onboarding.outbox.service import drain_due, prune_receipts
    from onboarding.webhooks.delivery import enqueue_due

    for step in (drain_due, enqueue_due, buffer.flush, prune_receipts, schedule_maintenance):
        try:
            step()
        except Exception:  # noqa: BLE001 - one failed step must not stop the others; the next sweep retries
            db.session.rollback()
            log.warning("sweep step %s failed", step.__name__, exc_info=True)


def schedule_maintenance() -> None:
    """Ask for the clean-up at the next full hour; asked every sweep, scheduled once per hour."""
    from onboarding import maintenance
    from onboarding.queue import enqueue_at_slot

    enqueue_at_slot(
        "onboarding.tasks.maintenance",
        every=maintenance.PERIOD,
        prefix="onboarding-maintenance",
        queue="files",
    )


def maintenance() -> None:
    """The hourly clean-up (:mod:`onboarding.maintenance`)."""
    from onboarding import maintenance as clean_up

    clean_up.run()


def send_password_reset(email: str) -> None:
    """A forgotten-password request: email a reset link if an active account uses ``email``."""
    from onboarding.extensions import db
    from onboarding.selfservice.service import send_password_reset as send

    send(email)
    db.session.commit()


def post_process_error(event_row_id: int) -> None:
    """After a captured error is saved: email the superusers once about a new issue."""
    from sqlalchemy import select

    from onboarding.accounts.models import User
    from onboarding.extensions import db
    from onboarding.ops import events
    from onboarding.ops.models import ErrorEvent
    from onboarding.outbox import mail

    event = db.session.get(ErrorEvent, event_row_id)
    if event is None or not events.mark_notified(event.issue_id):
        db.session.rollback()
        return
    admins = db.session.scalars(
        select(User).where(User.is_superuser.is_(True), User.is_active_flag.is_(True))
    ).all()
    for admin in admins:
        mail.queue_email(admin.email, "error_new_issue", issue=event.issue, event=event)
    db.session.commit()


def delete_unreferenced_blobs(blob_ids: list[int]) -> None:
    """After a file was deleted: remove those of its blobs that no other file uses."""
    from onboarding.extensions import db
    from onboarding.files import service as files

    files.delete_unreferenced_blobs(blob_ids)
    db.session.commit()


def collect_file_garbage(grace_seconds: int | None = None) -> None:
    """The file part of the clean-up (kept for jobs queued by earlier versions)."""
    from onboarding import maintenance as clean_up

    clean_up.collect_files(clean_up.Report(), grace_seconds)


def save_avatar_upload(upload_id: int) -> None:
    """Save an accepted avatar upload as a chunked file and point the avatar at it (idempotent)."""
    from onboarding.avatars import service as avatars
    from onboarding.extensions import db

    avatars.save_upload(upload_id)
    db.session.commit()


def purge_organization(org_id: int) -> None:
    """After an organization was deleted: remove its rows (by cascade) and its files (blobs that no other
    file uses are collected after this commit). Idempotent."""
    from onboarding.deletion import service as deletion
    from onboarding.extensions import db

    deletion.purge_organization(org_id)
    db.session.commit()
