"""Avatar rules (spec §1.12): letter by default, uploads saved by a job, Gravatar for users.

Nothing here commits. An upload is checked in the request (size, format, pixels, dimensions),
kept as an :class:`AvatarUpload` row, and saved by :func:`save_upload` on the ``files`` queue.
"""

from __future__ import annotations

import hashlib
import io
import logging
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app
from sqlalchemy import select

from onboarding.avatars import images
from onboarding.avatars.images import AvatarError
from onboarding.avatars.letter import letter_avatar_svg
from onboarding.avatars.models import (
    ALLOWED_SIZES,
    AvatarType,
    AvatarUpload,
    OrganizationAvatar,
    UploadStatus,
    UserAvatar,
)
from onboarding.database import on_commit
from onboarding.extensions import db, utcnow
from onboarding.files import service as files
from onboarding.files.models import File

log = logging.getLogger(__name__)

MODELS: dict[str, type[OrganizationAvatar] | type[UserAvatar]] = {
    "organization": OrganizationAvatar,
    "user": UserAvatar,
}
Avatar = OrganizationAvatar | UserAvatar
CACHE_TTL = 7 * 24 * 3600
FILE_TYPE = "avatar.file"

__all__ = ["AvatarError", "ALLOWED_SIZES"]


def _owner_column(kind: str) -> Any:
    return OrganizationAvatar.organization_id if kind == "organization" else UserAvatar.user_id


def get_avatar(kind: str, owner_id: int, *, for_update: bool = False) -> Avatar | None:
    query = select(MODELS[kind]).where(_owner_column(kind) == owner_id)
    if for_update:
        query = query.with_for_update()
    return db.session.scalar(query)  # type: ignore[return-value]


def _get_or_create(kind: str, owner_id: int) -> Avatar:
    avatar = get_avatar(kind, owner_id, for_update=True)
    if avatar is None:
        model = MODELS[kind]
        fields = {"organization_id" if kind == "organization" else "user_id": owner_id}
        avatar = model(**fields, avatar_type=AvatarType.LETTER_AVATAR, ident=uuid.uuid4().hex)
        db.session.add(avatar)
        db.session.flush()
    return avatar


def type_names(kind: str) -> list[str]:
    return [t.api_name for t in MODELS[kind].TYPES]


def avatar_type_name(kind: str, owner_id: int) -> str:
    avatar = get_avatar(kind, owner_id)
    return AvatarType(avatar.avatar_type).api_name if avatar else "letter_avatar"


# --- uploads ------------------------------------------------------------------------------------


def check_upload(data: bytes) -> None:
    """Raise :class:`AvatarError` (with the HTTP status to answer) unless ``data`` is acceptable."""
    cfg = current_app.config
    images.check_upload(data, max_size=cfg["AVATAR_MAX_SIZE"], max_pixels=cfg["AVATAR_MAX_PIXELS"])


def queue_upload(kind: str, owner_id: int, data: bytes, *, actor_id: int | None) -> AvatarUpload:
    """Check ``data``, keep it, and queue the save for after commit. Raises :class:`AvatarError`."""
    check_upload(data)
    upload = AvatarUpload(kind=kind, owner_id=owner_id, actor_id=actor_id, data=data)
    db.session.add(upload)
    db.session.flush()
    files.queue_after_commit("onboarding.tasks.save_avatar_upload", upload.id)
    return upload


def requeue_stale_uploads(older_than: timedelta = timedelta(minutes=10)) -> int:
    """Queue again uploads still pending after ``older_than`` (their job was lost, e.g. Redis was
    down when the request committed). Saving is idempotent, so a duplicate run is harmless."""
    stale = list(
        db.session.scalars(
            select(AvatarUpload.id).where(
                AvatarUpload.status == UploadStatus.PENDING, AvatarUpload.created_at < utcnow() - older_than
            )
        )
    )
    for upload_id in stale:
        files.queue_after_commit("onboarding.tasks.save_avatar_upload", upload_id)
    return len(stale)


def delete_orphaned_files(grace_seconds: int) -> int:
    """Delete avatar files no avatar points at (left when an organization or user was deleted)."""
    cutoff = utcnow() - timedelta(seconds=grace_seconds)
    used = (
        select(OrganizationAvatar.file_id)
        .where(OrganizationAvatar.file_id.is_not(None))
        .union(select(UserAvatar.file_id).where(UserAvatar.file_id.is_not(None)))
    )
    orphans = list(
        db.session.scalars(
            select(File).where(File.type == FILE_TYPE, File.timestamp <= cutoff, File.id.not_in(used))
        )
    )
    for file in orphans:
        files.delete_file(file)
    return len(orphans)


def get_upload(upload_id: int, kind: str, owner_id: int) -> AvatarUpload | None:
    upload = db.session.get(AvatarUpload, upload_id)
    if upload is None or upload.kind != kind or upload.owner_id != owner_id:
        return None
    return upload


def save_upload(upload_id: int) -> AvatarUpload | None:
    """The job body: square PNG → chunked file → the avatar's new file and new ident.

    Idempotent: a finished or failed upload is left alone, and everything it writes belongs to one
    transaction, so a worker killed half-way leaves no rows and a re-run starts clean (stored
    copies left in the folder by the dead run are swept as orphans).
    """
    upload = db.session.scalar(select(AvatarUpload).where(AvatarUpload.id == upload_id).with_for_update())
    if upload is None or upload.status != UploadStatus.PENDING:
        return upload
    try:
        png = images.square_png(upload.data or b"", max_pixels=current_app.config["AVATAR_MAX_PIXELS"])
    except AvatarError as exc:
        _finish(upload, UploadStatus.FAILED, exc.message)
        return upload
    try:
        file = files.create_file(f"{upload.kind}-{upload.owner_id}.png", FILE_TYPE, io.BytesIO(png))
    except files.BlobCollision:
        # Not a passing fault: re-running would refuse the same bytes again. Undo the partial file and
        # tell the person, instead of leaving the upload pending (and re-queued) for ever.
        db.session.rollback()
        upload = db.session.scalar(select(AvatarUpload).where(AvatarUpload.id == upload_id).with_for_update())
        if upload is not None and upload.status == UploadStatus.PENDING:
            _finish(upload, UploadStatus.FAILED, "This image could not be stored. Try another image.")
        return upload
    avatar = _get_or_create(upload.kind, upload.owner_id)
    old_file_id, old_ident = avatar.file_id, avatar.ident
    avatar.file_id = file.id
    avatar.ident = uuid.uuid4().hex
    avatar.avatar_type = AvatarType.UPLOAD
    db.session.flush()
    if old_file_id is not None:
        old = db.session.get(File, old_file_id)
        if old is not None:
            files.delete_file(old)
        on_commit(lambda: forget_cached(old_ident))
    upload.ident = avatar.ident
    _finish(upload, UploadStatus.DONE, None)
    return upload


def _finish(upload: AvatarUpload, status: UploadStatus, error: str | None) -> None:
    upload.status = status
    upload.error = error
    upload.data = None
    upload.finished_at = utcnow()


def set_type(kind: str, owner_id: int, type_name: str) -> bool:
    """Switch the avatar type; returns whether it changed. The stored picture is kept.

    Raises :class:`AvatarError` for an unknown type, or ``upload`` without a saved picture.
    """
    if type_name not in type_names(kind):
        raise AvatarError(f"Invalid avatar type. Choose one of: {', '.join(type_names(kind))}.")
    wanted = AvatarType[type_name.upper()]
    avatar = get_avatar(kind, owner_id, for_update=True)
    if wanted == AvatarType.UPLOAD and (avatar is None or avatar.file_id is None):
        raise AvatarError("Cannot set avatarType to upload without avatar")
    if avatar is None:
        if wanted == AvatarType.LETTER_AVATAR:
            return False
        avatar = _get_or_create(kind, owner_id)
    if avatar.avatar_type == wanted:
        return False
    avatar.avatar_type = wanted
    return True


def delete_avatar(kind: str, owner_id: int) -> None:
    avatar = get_avatar(kind, owner_id)
    if avatar is None:
        return
    file = db.session.get(File, avatar.file_id) if avatar.file_id else None
    db.session.delete(avatar)
    if file is not None:
        files.delete_file(file)


# --- serving ------------------------------------------------------------------------------------


def nearest_size(size: int) -> int:
    return min(ALLOWED_SIZES, key=lambda allowed: (abs(allowed - size), allowed))


def _cache_key(ident: str, size: int) -> str:
    return f"avatar-photo:{ident}:{size}"


def forget_cached(ident: str) -> None:
    from onboarding.redisconn import get_redis

    try:
        get_redis().delete(*[_cache_key(ident, s) for s in ALLOWED_SIZES])
    except Exception:  # noqa: BLE001 - a cache that cannot be reached holds nothing to forget
        log.warning("could not clear cached avatar sizes for %s", ident)


def photo(kind: str, ident: str, size: int | None) -> bytes | None:
    """The stored picture (``size`` None) or a cached square PNG of the nearest allowed size."""
    avatar: Avatar | None = db.session.scalar(  # type: ignore[assignment]
        select(MODELS[kind]).where(MODELS[kind].ident == ident)
    )
    if avatar is None or avatar.file_id is None:
        return None
    file = db.session.get(File, avatar.file_id)
    if file is None:
        return None
    if size is None:
        return files.read_bytes(file)
    size = nearest_size(size)
    from onboarding.redisconn import get_redis

    key = _cache_key(ident, size)
    try:
        cached = get_redis().get(key)
        if cached:
            return bytes(cached)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - serve without the cache
        log.warning("avatar cache unavailable; resizing without it")
    data = images.resized_png(files.read_bytes(file), size)
    try:
        get_redis().set(key, data, ex=CACHE_TTL)
    except Exception:  # noqa: BLE001 - the next request resizes again
        log.warning("could not cache a resized avatar")
    return data


def photo_url(kind: str, ident: str, size: int | None = None) -> str:
    """The picture's path (the same paths as the ``avatars.*_photo`` views; usable outside requests)."""
    path = f"/{MODELS[kind].URL_PATH}/{ident}/"
    return f"{path}?s={int(size)}" if size else path


def gravatar_url(email: str, size: int = 120) -> str:
    digest = hashlib.md5(email.strip().lower().encode(), usedforsecurity=False).hexdigest()
    return f"https://www.gravatar.com/avatar/{digest}?{urlencode({'s': size, 'd': 'identicon'})}"


def serialize(kind: str, owner_id: int) -> dict[str, Any]:
    """``{"avatarType", "avatarUuid", "avatarUrl"}`` as the API shows it (spec §1.11)."""
    avatar = get_avatar(kind, owner_id)
    if avatar is None:
        return {"avatarType": "letter_avatar", "avatarUuid": None, "avatarUrl": None}
    has_file = avatar.file_id is not None
    return {
        "avatarType": AvatarType(avatar.avatar_type).api_name,
        "avatarUuid": avatar.ident if has_file else None,
        "avatarUrl": photo_url(kind, avatar.ident) if has_file else None,
    }


def display(kind: str, owner_id: int, name: str, identifier: str, *, size: int = 64, email: str = "") -> Any:
    """What a page shows: ``("img", url)`` for a picture, or ``("svg", markup)`` for letters."""
    avatar = get_avatar(kind, owner_id)
    if avatar is not None and avatar.avatar_type == AvatarType.UPLOAD and avatar.file_id is not None:
        return ("img", photo_url(kind, avatar.ident, nearest_size(size)))
    if avatar is not None and avatar.avatar_type == AvatarType.GRAVATAR and email:
        return ("img", gravatar_url(email, size))
    return ("svg", letter_avatar_svg(name, identifier, size))
