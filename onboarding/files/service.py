"""Saving files as deduplicated blobs, deleting them, and collecting blobs nobody uses.

Nothing here commits: a caller (a view or a job) commits once. Storage writes that cannot join the
transaction (the folder backend) are made safe by random paths and by the orphan sweep.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import BinaryIO

from flask import current_app
from sqlalchemy import delete, exists, select
from sqlalchemy.exc import IntegrityError

from onboarding.database import on_commit
from onboarding.extensions import db, utcnow
from onboarding.files.models import BlobData, File, FileBlob, FileBlobIndex
from onboarding.files.reader import ChunkedFile
from onboarding.files.storage import FolderStorage, Storage, generate_unique_path, get_storage

log = logging.getLogger(__name__)

DEFAULT_BLOB_SIZE = 1024 * 1024  # one MiB
MAX_FILE_SIZE = 2**32  # 4 GiB: offsets are stored as 64-bit, but keep Sentry's bound
BLOB_TOUCH_AFTER = timedelta(hours=12)  # a reused blob older than this gets a fresh timestamp


class BlobCollision(ValueError):
    """A stored chunk has the SHA-1 of new bytes but other contents (a crafted SHA-1 collision): the
    new bytes are refused rather than served as someone else's."""


class FileTooLarge(ValueError):
    pass


def queue_after_commit(func: str, *args: object) -> None:
    """Enqueue a job on the ``files`` queue once the current transaction has committed.

    The job gets its own application context (and so its own database session): with ``JOBS_SYNC``
    it runs inline inside the commit hook, where the committing session can no longer be used.
    """
    from onboarding.queue import enqueue

    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def run() -> None:
        with app.app_context():
            enqueue(func, *args, queue="files")

    on_commit(run)


def _find_blob(checksum: str) -> FileBlob | None:
    return db.session.scalar(select(FileBlob).where(FileBlob.checksum == checksum))


COMPARE_PIECE = 64 * 1024  # a stored chunk is compared in pieces: memory stays small, a mismatch stops early


def _check_same_bytes(blob: FileBlob, chunk: bytes, storage: Storage) -> FileBlob:
    """SHA-1 alone is collision-attackable and blobs are shared across users and organizations, so a
    hit is reused only when size and bytes match too (notes §4: "sha1 plus size plus a byte-compare").
    The stored bytes are read only when the size matches, in pieces, and no further than a difference."""
    if blob.size == len(chunk) and blob.path is not None and _same_bytes(storage, blob.path, chunk):
        return blob
    log.error(
        "blob %s has the SHA-1 %s of new bytes but other contents; refusing them", blob.id, blob.checksum
    )
    raise BlobCollision("These bytes collide with a stored chunk's SHA-1; they were not stored.")


def _same_bytes(storage: Storage, path: str, chunk: bytes) -> bool:
    view = memoryview(chunk)
    with storage.open(path) as stored:
        for start in range(0, len(chunk), COMPARE_PIECE):
            if stored.read(COMPARE_PIECE) != view[start : start + COMPARE_PIECE]:
                return False
        return stored.read(1) == b""


def blob_for_chunk(chunk: bytes, storage: Storage | None = None) -> FileBlob:
    """The blob holding exactly ``chunk``: an existing one with the same SHA-1, size and bytes, or a new
    one (:class:`BlobCollision` for a stored chunk with the same SHA-1 but other bytes).

    Two writers of the same new chunk at once: both store a copy under their own random path and
    try to insert the row; the unique checksum lets one win. The loser removes its copy and uses the
    winner's row (on PostgreSQL its insert waits for the winner's commit before failing).
    """
    storage = storage or get_storage()
    checksum = hashlib.sha1(chunk, usedforsecurity=False).hexdigest()
    blob = _find_blob(checksum)
    if blob is not None:
        _check_same_bytes(blob, chunk, storage)
    else:
        path = generate_unique_path()
        try:
            with db.session.begin_nested():
                storage.save(path, chunk)
                blob = FileBlob(path=path, size=len(chunk), checksum=checksum, timestamp=utcnow())
                db.session.add(blob)
                db.session.flush()
            return blob
        except IntegrityError:
            log.info("lost a blob upload race for %s; using the stored copy", checksum)
            storage.delete(path)  # folder: our copy; database: already gone with the savepoint
            blob = _find_blob(checksum)
            if blob is None:  # the winner rolled back after all; nothing to reuse
                raise
            _check_same_bytes(blob, chunk, storage)
    if blob.timestamp < utcnow() - BLOB_TOUCH_AFTER:
        blob.timestamp = utcnow()  # keeps a blob in use out of the garbage collector's reach
    return blob


def putfile(
    file: File, fileobj: BinaryIO, *, blob_size: int = DEFAULT_BLOB_SIZE, storage: Storage | None = None
) -> list[FileBlobIndex]:
    """Store ``fileobj`` as the contents of ``file`` in ``blob_size`` chunks.

    Sets ``file.size`` and ``file.checksum`` (SHA-1 of the whole stream) and returns the index rows
    in order (7 bytes with ``blob_size=3`` → offsets 0, 3, 6). Memory use is one chunk. Raises
    :class:`ValueError` when ``file`` already has contents and :class:`FileTooLarge` past 4 GiB.
    """
    if blob_size <= 0:
        raise ValueError("blob_size must be positive")
    storage = storage or get_storage()
    if file.id is None:
        db.session.add(file)
        db.session.flush()
    elif db.session.scalar(select(FileBlobIndex.id).where(FileBlobIndex.file_id == file.id).limit(1)):
        raise ValueError(f"file {file.id} already has contents")
    whole = hashlib.sha1(usedforsecurity=False)
    offset = 0
    rows: list[FileBlobIndex] = []
    # The whole-file SHA-1 runs in a helper thread (hashlib releases the GIL) while this one hashes
    # and stores the chunk; waiting for the previous update first keeps at most two chunks alive.
    with ThreadPoolExecutor(1, thread_name_prefix="putfile-sha1") as hasher:
        pending: Future[None] | None = None
        while True:
            chunk = fileobj.read(blob_size)
            if not chunk:
                break
            if offset + len(chunk) > MAX_FILE_SIZE:
                raise FileTooLarge(f"files are limited to {MAX_FILE_SIZE} bytes")
            if pending is not None:
                pending.result()
            pending = hasher.submit(whole.update, chunk)
            blob = blob_for_chunk(chunk, storage)
            row = FileBlobIndex(file_id=file.id, blob_id=blob.id, offset=offset)
            db.session.add(row)
            rows.append(row)
            offset += blob.size
            del chunk
        if pending is not None:
            pending.result()
    storage.sync()
    file.size = offset
    file.checksum = whole.hexdigest()
    db.session.flush()
    return rows


def create_file(name: str, type: str, fileobj: BinaryIO, **kw: object) -> File:
    """A new :class:`File` holding the bytes of ``fileobj``."""
    file = File(name=name, type=type, headers={})
    db.session.add(file)
    db.session.flush()
    putfile(file, fileobj, **kw)  # type: ignore[arg-type]
    return file


def getfile(file: File | int, *, prefetch: bool = False, storage: Storage | None = None) -> ChunkedFile:
    """A read-only file object over the file's blobs (see :class:`ChunkedFile`)."""
    file_id = file if isinstance(file, int) else file.id
    storage = storage or get_storage()
    parts = db.session.execute(
        select(FileBlobIndex.offset, FileBlob.size, FileBlob.path)
        .join(FileBlob, FileBlob.id == FileBlobIndex.blob_id)
        .where(FileBlobIndex.file_id == file_id)
        .order_by(FileBlobIndex.offset)
    ).all()
    return ChunkedFile([(o, s, p or "") for o, s, p in parts], storage, prefetch=prefetch)


def read_bytes(file: File | int) -> bytes:
    with getfile(file) as fh:
        return fh.read()


def delete_file(file: File) -> list[int]:
    """Delete ``file`` and its index rows; after commit, queue collection of the blobs it used.

    Blobs still used by another file are kept (the collector checks, and the foreign key refuses).
    """
    blob_ids = sorted(
        set(db.session.scalars(select(FileBlobIndex.blob_id).where(FileBlobIndex.file_id == file.id)))
    )
    db.session.execute(delete(FileBlobIndex).where(FileBlobIndex.file_id == file.id))
    db.session.delete(file)
    if blob_ids:
        queue_after_commit("onboarding.tasks.delete_unreferenced_blobs", blob_ids)
    return blob_ids


def delete_unreferenced_blobs(blob_ids: list[int] | None = None, *, grace_seconds: int = 0) -> int:
    """Delete blobs that no file uses (only ``blob_ids`` when given) older than the grace period.

    Returns how many were deleted. Folder copies are removed after the caller commits.
    """
    storage = get_storage()
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    unreferenced = ~exists().where(FileBlobIndex.blob_id == FileBlob.id)
    query = select(FileBlob.id, FileBlob.path).where(unreferenced, FileBlob.timestamp <= cutoff)
    if blob_ids is not None:
        query = query.where(FileBlob.id.in_(blob_ids))
    removed_paths: list[str] = []
    for blob_id, path in db.session.execute(query).all():
        try:
            with db.session.begin_nested():
                gone = db.session.execute(
                    delete(FileBlob).where(FileBlob.id == blob_id, unreferenced, FileBlob.timestamp <= cutoff)
                ).rowcount  # type: ignore[attr-defined]
                if gone and path and not isinstance(storage, FolderStorage):
                    storage.delete(path)
        except IntegrityError:  # a file started using it meanwhile
            continue
        if gone and path:
            removed_paths.append(path)
    if isinstance(storage, FolderStorage) and removed_paths:

        def remove() -> None:
            for path in removed_paths:
                storage.delete(path)

        on_commit(remove)
    return len(removed_paths)


def sweep_orphans(*, grace_seconds: int) -> int:
    """Remove stored copies that no blob row names (left by a save that died or rolled back).

    Only copies older than the grace period: a save in progress has stored copies whose rows are
    not committed yet.
    """
    storage = get_storage()
    known = set(db.session.scalars(select(FileBlob.path).where(FileBlob.path.is_not(None))))
    removed = 0
    if isinstance(storage, FolderStorage):
        horizon = time.time() - grace_seconds
        for path in storage.paths():
            if path in known:
                continue
            try:
                if os.stat(storage.root / path).st_mtime > horizon:
                    continue
            except FileNotFoundError:
                continue
            storage.delete(path)
            removed += 1
    else:
        orphans = [p for p in storage.paths() if p not in known]
        if orphans:
            db.session.execute(delete(BlobData).where(BlobData.path.in_(orphans)))
        removed = len(orphans)
    return removed


def collect_garbage(grace_seconds: int | None = None) -> tuple[int, int]:
    """Unreferenced blobs and orphaned copies older than the grace period; returns both counts."""
    if grace_seconds is None:
        grace_seconds = int(current_app.config.get("FILES_GC_GRACE_SECONDS", 24 * 3600))
    return (
        delete_unreferenced_blobs(grace_seconds=grace_seconds),
        sweep_orphans(grace_seconds=grace_seconds),
    )
