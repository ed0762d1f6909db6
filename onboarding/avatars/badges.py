"""Small avatars beside a person's or an organization's name, for every page (``avatar_user(user)``,
``avatar_org(org)`` in templates). They are decorative (the name is always written next to them)."""

from __future__ import annotations

from typing import Any

from markupsafe import Markup

from onboarding.avatars import bp
from onboarding.avatars import service as avatars


def _badge(shown: tuple[str, Any], size: int) -> Markup:
    kind, value = shown
    if kind == "img":
        inner = Markup('<img src="{}" alt="" width="{}" height="{}" loading="lazy">').format(
            value, size, size
        )
    else:
        inner = value  # already Markup: letter_avatar_svg escapes the initials
    return Markup('<span class="avatar avatar-{}" aria-hidden="true">{}</span>').format(int(size), inner)


def avatar_user(user: Any, size: int = 24) -> Markup:
    if user is None:
        return Markup("")
    name = getattr(user, "display_name", None) or user.email
    return _badge(avatars.display("user", user.id, name, user.email, size=size, email=user.email), size)


def avatar_org(org: Any, size: int = 24) -> Markup:
    if org is None:
        return Markup("")
    return _badge(avatars.display("organization", org.id, org.name, org.slug, size=size), size)


def avatar_letters(name: str, identifier: str, size: int = 24) -> Markup:
    """For someone without an account yet (an invited address)."""
    return _badge(("svg", avatars.letter_avatar_svg(name, identifier, size)), size)


@bp.app_context_processor
def _avatar_context() -> dict[str, Any]:
    return {"avatar_user": avatar_user, "avatar_org": avatar_org, "avatar_letters": avatar_letters}
