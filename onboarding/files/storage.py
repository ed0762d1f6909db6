"""Where blob bytes live: a folder (default: ``<instance>/files``) or the database itself.

Chosen by ``FILES_STORAGE`` (``folder`` | ``database``). The database backend lets several machines
share blobs through PostgreSQL without a shared disk; its writes belong to the caller's transaction,
so a rolled-back save leaves nothing behind. Folder writes happen at once (atomically, by rename);
a rolled-back save can leave a file without a row, which :func:`onboarding.files.service.sweep_orphans`
removes later.
"""

from __future__ import annotations

import io
import os
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from onboarding.extensions import db

BACKENDS = ("folder", "database")


def generate_unique_path() -> str:
    """A random storage path split 2/4/26 (``ab/cdef/…``); intentionally not the checksum."""
    name = uuid.uuid4().hex
    return f"{name[:2]}/{name[2:6]}/{name[6:]}"


class Storage(Protocol):
    name: str

    def save(self, path: str, data: bytes) -> None: ...
    def sync(self) -> None:
        """Make every copy saved so far durable (before the rows naming them are committed)."""
        ...

    def open(self, path: str) -> BinaryIO: ...
    def delete(self, path: str) -> None: ...
    def exists(self, path: str) -> bool: ...
    def paths(self) -> list[str]: ...
    def detached_reader(self) -> Callable[[str], bytes]:
        """A function that reads one blob and may be called from other threads."""
        ...


class FolderStorage:
    name = "folder"

    def __init__(self, root: str | os.PathLike[str], *, fsync: bool = True) -> None:
        self.root = Path(root)
        self.fsync = fsync
        self._unsynced: list[Path] = []

    def _full(self, path: str) -> Path:
        full = (self.root / path).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError(f"storage path escapes the storage folder: {path!r}")
        return full

    def save(self, path: str, data: bytes) -> None:
        full = self._full(path)
        full.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=full.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
            os.replace(tmp, full)  # readers see the whole blob or nothing
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        if self.fsync:
            # Synced in one go by sync(): the kernel writes earlier blobs back while later ones
            # are being hashed and written, instead of the save waiting on the disk per blob.
            self._unsynced.append(full)

    def sync(self) -> None:
        folders: set[Path] = set()
        for full in self._unsynced:
            fd = os.open(full, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
            folders.add(full.parent)
        for folder in folders:  # the renames themselves
            fd = os.open(folder, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        self._unsynced.clear()

    def open(self, path: str) -> BinaryIO:
        return self._full(path).open("rb")

    def delete(self, path: str) -> None:
        full = self._full(path)
        full.unlink(missing_ok=True)
        if full in self._unsynced:  # e.g. the copy of a lost upload race
            self._unsynced.remove(full)

    def exists(self, path: str) -> bool:
        return self._full(path).is_file()

    def paths(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(
            str(p.relative_to(self.root))
            for p in self.root.glob("*/*/*")
            if p.is_file() and not p.name.startswith(".tmp-")
        )

    def detached_reader(self) -> Callable[[str], bytes]:
        def read(path: str) -> bytes:
            return self._full(path).read_bytes()

        return read


class DatabaseStorage:
    """Blob bytes in the ``file_blob_data`` table, written in the caller's transaction."""

    name = "database"

    def save(self, path: str, data: bytes) -> None:
        from onboarding.files.models import BlobData

        db.session.add(BlobData(path=path, data=data))
        db.session.flush()

    def sync(self) -> None:
        pass  # durable with the transaction

    def open(self, path: str) -> BinaryIO:
        from onboarding.files.models import BlobData

        data = db.session.scalar(select(BlobData.data).where(BlobData.path == path))
        if data is None:
            raise FileNotFoundError(path)
        return io.BytesIO(data)

    def delete(self, path: str) -> None:
        from onboarding.files.models import BlobData

        db.session.execute(delete(BlobData).where(BlobData.path == path))

    def exists(self, path: str) -> bool:
        from onboarding.files.models import BlobData

        return db.session.scalar(select(BlobData.path).where(BlobData.path == path)) is not None

    def paths(self) -> list[str]:
        from onboarding.files.models import BlobData

        return list(db.session.scalars(select(BlobData.path).order_by(BlobData.path)))

    def detached_reader(self) -> Callable[[str], bytes]:
        from onboarding.database import write_intent
        from onboarding.files.models import BlobData

        engine: Engine = db.engine

        def read(path: str) -> bytes:
            with write_intent(False), engine.connect() as conn:
                data = conn.scalar(select(BlobData.data).where(BlobData.path == path))
            if data is None:
                raise FileNotFoundError(path)
            return bytes(data)

        return read


def get_storage() -> Storage:
    """The configured backend for the current app."""
    cfg = current_app.config
    kind = cfg.get("FILES_STORAGE", "folder")
    if kind == "database":
        return DatabaseStorage()
    if kind == "folder":
        root = cfg.get("FILES_PATH") or os.path.join(current_app.instance_path, "files")
        return FolderStorage(root, fsync=bool(cfg.get("FILES_FSYNC", True)))
    raise ValueError(f"unknown FILES_STORAGE {kind!r}; use one of {', '.join(BACKENDS)}")
