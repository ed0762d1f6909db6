"""The hourly clean-up: stored files nothing uses, stalled avatar uploads, long-expired invites, deleted
organizations whose removal job was lost.

The worker runs :func:`run` once an hour (``tasks.maintenance``, scheduled by the periodic sweep with
the hour in its job id, so several workers still run it once). ``onboarding maintenance`` runs it now,
and ``onboarding files gc`` its file part alone. Every step is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app

from onboarding.database import write_intent
from onboarding.extensions import db

log = logging.getLogger(__name__)

PERIOD = 3600  # seconds


@dataclass
class Report:
    avatar_files: int = 0
    blobs: int = 0
    stored_copies: int = 0
    requeued_uploads: int = 0
    expired_invites: int = 0
    deleted_organizations: int = 0
    webhook_deliveries: int = 0

    def describe(self) -> str:
        return (
            f"Deleted {self.avatar_files} orphaned avatar file(s), {self.blobs} unreferenced blob(s) and "
            f"{self.stored_copies} orphaned stored copy(ies); re-queued {self.requeued_uploads} stalled "
            f"avatar upload(s); removed {self.expired_invites} long-expired invite(s) and "
            f"{self.deleted_organizations} deleted organization(s) whose job was lost; pruned "
            f"{self.webhook_deliveries} old webhook delivery record(s)."
        )


def collect_files(report: Report, grace_seconds: int | None = None) -> Report:
    from onboarding.avatars import service as avatars
    from onboarding.files import service as files

    if grace_seconds is None:
        grace_seconds = int(current_app.config["FILES_GC_GRACE_SECONDS"])
    with write_intent(True):
        report.avatar_files = avatars.delete_orphaned_files(grace_seconds)
        db.session.commit()  # their blobs are queued for collection after this commit
        report.blobs, report.stored_copies = files.collect_garbage(grace_seconds)
        report.requeued_uploads = avatars.requeue_stale_uploads()
        db.session.commit()
    return report


def remove_expired_invites(report: Report, *, batch: int = 500) -> Report:
    from onboarding.invites import service as invites

    keep = timedelta(seconds=int(current_app.config["INVITE_EXPIRED_RETENTION_SECONDS"]))
    for _ in range(1000):  # bounded: a batch may remove fewer than it selected (resent meanwhile)
        with write_intent(True):
            removed = invites.delete_expired(keep, batch=batch)
            db.session.commit()
        report.expired_invites += removed
        if removed == 0:
            break
    return report


def purge_deleted_organizations(report: Report) -> Report:
    """Organizations deleted whose removal job never ran (e.g. Redis was down at the time)."""
    from onboarding.deletion import service as deletion

    with write_intent(True):
        for org_id in deletion.pending_deletions():
            report.deleted_organizations += deletion.purge_organization(org_id)
            db.session.commit()
    return report


def prune_webhook_deliveries(report: Report) -> Report:
    """Finished webhook deliveries older than their retention (the log shows recent ones)."""
    from onboarding.webhooks import service as webhooks

    with write_intent(True):
        report.webhook_deliveries = webhooks.prune_deliveries()
        db.session.commit()
    return report


def run(grace_seconds: int | None = None) -> Report:
    report = purge_deleted_organizations(Report())
    collect_files(report, grace_seconds)
    remove_expired_invites(report)
    prune_webhook_deliveries(report)
    if any(vars(report).values()):  # an hour with nothing to clean leaves no line
        log.info("maintenance: %s", report.describe())
    return report
