"""``onboarding files gc``: the file part of the hourly clean-up (:mod:`onboarding.maintenance`), now."""

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
    """Delete unreferenced blobs and orphaned stored copies; re-queue stalled avatar uploads.
    (The worker does this every hour, with ``onboarding maintenance``'s other steps.)"""
    from onboarding import maintenance

    report = maintenance.collect_files(maintenance.Report(), grace_seconds)
    click.echo(
        f"Deleted {report.avatar_files} orphaned avatar file(s), {report.blobs} unreferenced blob(s) and "
        f"{report.stored_copies} orphaned stored copy(ies); re-queued {report.requeued_uploads} stalled "
        "avatar upload(s)."
    )
