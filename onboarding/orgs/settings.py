"""Changing an organization's details and options (spec §1.11), shared by the page and the API.

:func:`validate` turns incoming API-shaped data into clean values or field errors; :func:`apply`
stores them and returns the ``org.edit`` audit descriptions ("to …" / "from … to …"). Nothing here
commits; the caller records the audit entry (only when something changed) and commits once.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from typing import Any

from onboarding.accounts.models import User
from onboarding.avatars import service as avatars
from onboarding.avatars.images import AvatarError
from onboarding.orgs import options, relays, roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrgFlags
from onboarding.twofactor.service import user_has_2fa


@dataclass(frozen=True)
class OptionField:
    field: str
    key: str
    default: Any


# The options of Sentry's ORG_OPTIONS table that mean something in this product.
ORG_OPTIONS = (OptionField("allowJoinRequests", "sentry:join_requests", True),)

# API field → (flag, inverted): the stored bit is the opposite of the API value when inverted.
FLAG_FIELDS = {
    "openMembership": (OrgFlags.ALLOW_JOINLEAVE, False),
    "allowMemberInvite": (OrgFlags.DISABLE_MEMBER_INVITE, True),
    "require2FA": (OrgFlags.REQUIRE_2FA, False),
}
AVATAR_TYPES = ("letter_avatar", "upload")


class SlugConflict(Exception):
    """Another organization has the slug (answered 409)."""


@dataclass
class Changes:
    values: dict[str, Any] = field(default_factory=dict)
    errors: dict[str, list[str]] = field(default_factory=dict)
    avatar: bytes | None = None
    avatar_status: int = 400  # 413 when the picture is too large

    def error(self, name: str, message: str) -> None:
        self.errors.setdefault(name, []).append(message)


def option_value(org: Organization, opt: OptionField) -> Any:
    return options.get_value(org.id, opt.key, opt.default)


def current_values(org: Organization) -> dict[str, Any]:
    values: dict[str, Any] = {"name": org.name, "slug": org.slug, "defaultRole": org.default_role}
    for name, (flag, inverted) in FLAG_FIELDS.items():
        values[name] = org.has_flag(flag) != inverted
    for opt in ORG_OPTIONS:
        values[opt.field] = bool(option_value(org, opt))
    return values


def _as_bool(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "on", "off"):
        return value.strip().lower() in ("true", "1", "on")
    return None


def validate(org: Organization, data: dict[str, Any], *, actor: User, can_admin: bool) -> Changes:
    """Check every known field present in ``data``; unknown keys are ignored (partial update).

    Raises :class:`SlugConflict` when the slug belongs to another organization.
    """
    ch = Changes()
    if "name" in data:
        name = data["name"].strip() if isinstance(data["name"], str) else None
        if name is None:
            ch.error("name", "Not a valid string.")
        elif not name:
            ch.error("name", "This field may not be blank.")
        elif len(name) > 64:
            ch.error("name", "Ensure this field has no more than 64 characters.")
        else:
            ch.values["name"] = name
    if "slug" in data:
        raw = data["slug"]
        if not isinstance(raw, str):
            ch.error("slug", "Not a valid string.")
        else:
            try:
                ch.values["slug"] = orgs.validate_slug(raw, exclude_org_id=org.id)
            except orgs.SlugError as exc:
                if str(exc).endswith("is already in use."):
                    raise SlugConflict(str(exc)) from None
                ch.error("slug", str(exc))
    if "defaultRole" in data and can_admin:  # others: silently ignored, as in Sentry
        if not isinstance(data["defaultRole"], str) or not roles.is_valid(data["defaultRole"]):
            ch.error("defaultRole", "Invalid role")
        else:
            ch.values["defaultRole"] = data["defaultRole"]
    for name in [*FLAG_FIELDS, *(o.field for o in ORG_OPTIONS)]:
        if name in data:
            value = _as_bool(data[name])
            if value is None:
                ch.error(name, "Must be a valid boolean.")
            else:
                ch.values[name] = value
    if ch.values.get("require2FA") is True and not org.has_flag(OrgFlags.REQUIRE_2FA):
        if not user_has_2fa(actor.id):
            ch.error(
                "require2FA", "Cannot require two-factor authentication without personal two-factor enabled."
            )
        elif orgs.auth_provider_for(org) is not None:
            ch.error("require2FA", "Cannot require two-factor authentication with SSO enabled")
    if "trustedRelays" in data:
        try:
            ch.values["trustedRelays"] = relays.parse_list(data["trustedRelays"])
        except relays.RelayError as exc:
            ch.error("trustedRelays", str(exc))
    _validate_avatar(org, data, ch)
    return ch


def _validate_avatar(org: Organization, data: dict[str, Any], ch: Changes) -> None:
    avatar_type = data.get("avatarType")
    if avatar_type is not None and avatar_type not in AVATAR_TYPES:
        ch.error("avatarType", f'"{avatar_type}" is not a valid choice.')
        return
    raw = data.get("avatar")
    if raw:
        if not isinstance(raw, str):
            ch.error("avatar", "Invalid image format.")
            return
        try:
            decoded = base64.b64decode(
                raw.split(",", 1)[-1] if raw.startswith("data:") else raw, validate=True
            )
        except (binascii.Error, ValueError):
            ch.error("avatar", "Invalid image format.")
            return
        try:
            avatars.check_upload(decoded)
        except AvatarError as exc:
            ch.error("avatar", exc.message)
            ch.avatar_status = exc.status
            return
        ch.avatar = decoded
    elif avatar_type == "upload":
        existing = avatars.get_avatar("organization", org.id)
        if existing is None or existing.file_id is None:
            ch.error("avatarType", "Cannot set avatarType to upload without avatar")
            return
    if avatar_type is not None:
        ch.values["avatarType"] = avatar_type


def apply(
    org: Organization, ch: Changes, *, actor: User, ip: str | None = None
) -> tuple[dict[str, str], Any]:
    """Store validated changes. Returns (audit descriptions, the queued avatar upload or None).

    Turning on the two-factor requirement turns members without two-factor back into pending invites
    (each emailed a fresh link, ``member.pending`` recorded), as Sentry does (spec §1.11 step 8).
    """
    changed: dict[str, str] = {}
    values = ch.values
    for opt in ORG_OPTIONS:
        if opt.field not in values:
            continue
        new = values[opt.field]
        row = options.get_row(org.id, opt.key)
        if row is None:
            options.set_value(org.id, opt.key, new)
            if new != opt.default:
                changed[opt.field] = f"to {new}"
        elif row.value != new:
            changed[opt.field] = f"from {row.value} to {new}"
            row.value = new
    if "trustedRelays" in values:
        relays.save(org.id, values["trustedRelays"], changed)
    for name, (flag, inverted) in FLAG_FIELDS.items():
        if name in values:
            bit = values[name] != inverted
            if org.has_flag(flag) != bit:
                org.set_flag(flag, bit)
                changed[str(flag.name).lower()] = f"to {bit}"
                if flag is OrgFlags.REQUIRE_2FA and bit:
                    from onboarding.twofactor.policy import make_non_compliant_pending

                    make_non_compliant_pending(org, actor, ip)
    for name, attr in (("name", "name"), ("slug", "slug"), ("defaultRole", "default_role")):
        if name in values and getattr(org, attr) != values[name]:
            changed[attr] = f"from {getattr(org, attr)} to {values[name]}"
            setattr(org, attr, values[name])
    upload = None
    if ch.avatar is not None:
        upload = avatars.queue_upload("organization", org.id, ch.avatar, actor_id=actor.id)
    elif values.get("avatarType"):
        avatars.set_type("organization", org.id, values["avatarType"])
    return changed, upload
