"""Builders shared by the deletion tests: a user with one of everything, avatars, row counts."""

from __future__ import annotations

import io
from typing import Any

from sqlalchemy import func, select

from onboarding.avatars import service as avatars
from onboarding.avatars.models import OrganizationAvatar, UserAvatar
from onboarding.extensions import db
from onboarding.files.models import File, FileBlob, FileBlobIndex
from onboarding.files.storage import get_storage
from tests.avatar_helpers import png

HX = {"HX-Request": "true"}


def count(model: Any, *where: Any) -> int:
    db.session.expire_all()
    return db.session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def give_avatar(kind: str, owner_id: int, color: tuple[int, int, int]) -> tuple[int, list[int], list[str]]:
    """Upload a picture (saved at once: jobs run inline in tests); returns its file id, blob ids and paths."""
    upload = avatars.queue_upload(kind, owner_id, png(color=color), actor_id=None)
    db.session.commit()
    assert upload.status == "done", upload.error
    model = OrganizationAvatar if kind == "organization" else UserAvatar
    column = model.organization_id if kind == "organization" else model.user_id  # type: ignore[union-attr]
    avatar = db.session.scalar(select(model).where(column == owner_id))
    assert avatar is not None and avatar.file_id is not None
    blobs = list(
        db.session.scalars(select(FileBlobIndex.blob_id).where(FileBlobIndex.file_id == avatar.file_id))
    )
    paths = list(db.session.scalars(select(FileBlob.path).where(FileBlob.id.in_(blobs))))
    return avatar.file_id, blobs, [p for p in paths if p]


def stored(path: str) -> bool:
    return get_storage().exists(path)


def file_exists(file_id: int) -> bool:
    return count(File, File.id == file_id) == 1


def png_file() -> io.BytesIO:
    return io.BytesIO(png())
