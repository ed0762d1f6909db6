"""``onboarding files gc``: the periodic clean-up (run it from cron, or enqueue the job)."""

from __future__ import annotations

import click

from onboarding.files import bp


@bp.cli.command("gc")
@click.option(
    "--grace-seconds",
    type=click.IntRange(0),
    default=None,
    help="Only what is older than this (default: FILES_GC_GRACE_SECONDS).",
)
def gc(grace_seconds: int | None) -> None:
    """Delete unreferenced blobs and orphaned stored copies; re-queue stalled avatar uploads."""
    from flask import current_app

    from onboarding.avatars import service as avatars
    from onboarding.database import write_intent
    from onboarding.extensions import db
    from onboarding.files import service as files

    if grace_seconds is None:
        grace_seconds = int(current_app.config["FILES_GC_GRACE_SECONDS"])
    with write_intent(True):
        pictures = avatars.delete_orphaned_files(grace_seconds)
        db.session.commit()  # their blobs are queued for collection after this commit
        blobs, orphans = files.collect_garbage(grace_seconds)
        requeued = avatars.requeue_stale_uploads()
        db.session.commit()
    click.echo(
        f"Deleted {pictures} orphaned avatar file(s), {blobs} unreferenced blob(s) and {orphans} orphaned "
        f"stored copy(ies); re-queued {requeued} stalled avatar upload(s)."
    )
