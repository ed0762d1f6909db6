"""Avatars of organizations and users, and uploads waiting for the ``files`` queue."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from onboarding.extensions import db, utcnow

ALLOWED_SIZES = (20, 32, 36, 48, 52, 64, 80, 96, 120)


class AvatarType(enum.IntEnum):
    LETTER_AVATAR = 0
    UPLOAD = 1
    GRAVATAR = 2  # users only

    @property
    def api_name(self) -> str:
        return self.name.lower()


class OrganizationAvatar(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "organization_avatar"
    TYPES = (AvatarType.LETTER_AVATAR, AvatarType.UPLOAD)
    URL_PATH = "organization-avatar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(
        ForeignKey("organization.id", ondelete="CASCADE"), unique=True
    )
    avatar_type: Mapped[int] = mapped_column(Integer, default=AvatarType.LETTER_AVATAR)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("file.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    # A new ident with every new picture: the URL changes, so caches never serve the old one.
    ident: Mapped[str] = mapped_column(String(32), unique=True)


class UserAvatar(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "user_avatar"
    TYPES = (AvatarType.LETTER_AVATAR, AvatarType.UPLOAD, AvatarType.GRAVATAR)
    URL_PATH = "avatar"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"), unique=True)
    avatar_type: Mapped[int] = mapped_column(Integer, default=AvatarType.LETTER_AVATAR)
    file_id: Mapped[int | None] = mapped_column(
        ForeignKey("file.id", ondelete="SET NULL"), unique=True, nullable=True
    )
    ident: Mapped[str] = mapped_column(String(32), unique=True)


class UploadStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class AvatarUpload(db.Model):  # type: ignore[name-defined,misc]
    """An accepted upload waiting for (or finished by) the save job. ``data`` is dropped once saved."""

    __tablename__ = "avatar_upload"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "organization" | "user"
    owner_id: Mapped[int] = mapped_column(Integer, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("user.id", ondelete="SET NULL"), nullable=True)
    data: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    status: Mapped[str] = mapped_column(String(16), default=UploadStatus.PENDING)
    error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    ident: Mapped[str | None] = mapped_column(String(32), nullable=True)  # the avatar it produced
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
