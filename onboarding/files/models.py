"""File, FileBlob, FileBlobIndex and the table that holds blob bytes for the database backend."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from onboarding.extensions import db, utcnow


class FileBlob(db.Model):  # type: ignore[name-defined,misc]
    """One stored chunk. ``checksum`` is unique: identical chunks are stored once.

    ``path`` is random (never the checksum), so two writers of the same bytes never write the same
    storage object; the loser of the race removes its own copy.
    """

    __tablename__ = "file_blob"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str | None] = mapped_column(String(64), nullable=True)
    size: Mapped[int] = mapped_column(BigInteger)
    checksum: Mapped[str] = mapped_column(String(40), unique=True)
    timestamp: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)


class File(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "file"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    type: Mapped[str] = mapped_column(String(64))
    timestamp: Mapped[datetime] = mapped_column(DateTime, default=utcnow, index=True)
    headers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checksum: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)

    indexes: Mapped[list[FileBlobIndex]] = relationship(
        back_populates="file",
        order_by="FileBlobIndex.offset",
        cascade="all, delete-orphan",
        passive_deletes=True,
    )


class FileBlobIndex(db.Model):  # type: ignore[name-defined,misc]
    """Where a blob sits in a file. One row per (file, offset): a re-run of a save cannot add rows."""

    __tablename__ = "file_blob_index"
    __table_args__ = (
        UniqueConstraint("file_id", "offset"),
        UniqueConstraint("file_id", "blob_id", "offset"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    file_id: Mapped[int] = mapped_column(ForeignKey("file.id", ondelete="CASCADE"))
    # RESTRICT: a blob still in use by any file can never be deleted.
    blob_id: Mapped[int] = mapped_column(ForeignKey("file_blob.id", ondelete="RESTRICT"), index=True)
    offset: Mapped[int] = mapped_column(BigInteger)

    file: Mapped[File] = relationship(back_populates="indexes")
    blob: Mapped[FileBlob] = relationship()


class BlobData(db.Model):  # type: ignore[name-defined,misc]
    """Blob bytes for the ``database`` storage backend (keyed by the blob's random path)."""

    __tablename__ = "file_blob_data"

    path: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)
