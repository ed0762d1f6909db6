"""Letter avatars (spec §1.12): initials on a colour chosen from the identifier, as SVG."""

from __future__ import annotations

from markupsafe import Markup, escape

LETTER_AVATAR_COLORS = (
    "#4674ca",
    "#315cac",
    "#57be8c",
    "#3fa372",
    "#f9a66d",
    "#ec5e44",
    "#e63717",
    "#f868bc",
    "#6c5fc7",
    "#4e3fb4",
    "#57b1be",
    "#847a8c",
)


def initials(display_name: str | None) -> str:
    """First letter of the first word plus first letter of the last word; ``?`` when empty."""
    words = (display_name or "").strip().split()
    if not words:
        return "?"
    first = words[0][0]
    last = words[-1][0] if len(words) > 1 else ""
    return (first + last).upper()


def color(identifier: str | None) -> str:
    return LETTER_AVATAR_COLORS[sum(ord(c) for c in str(identifier or "")) % len(LETTER_AVATAR_COLORS)]


def letter_avatar_svg(display_name: str | None, identifier: str | None, size: int | None = None) -> Markup:
    """A 120×120 viewBox SVG: rounded square (rx=ry=15) in the colour, white centred initials."""
    size_attrs = f' height="{int(size)}" width="{int(size)}"' if size else ""
    # Safe: the only user text (the initials) is escaped; the colour comes from a fixed list.
    return Markup(  # noqa: S704
        f'<svg viewBox="0 0 120 120" xmlns="http://www.w3.org/2000/svg"{size_attrs} role="img" '
        f'aria-label="{escape(initials(display_name))}" class="letter-avatar">'
        f'<rect x="0" y="0" width="120" height="120" rx="15" ry="15" fill="{color(identifier)}"></rect>'
        '<text x="50%" y="50%" font-size="65" dominant-baseline="central" text-anchor="middle" '
        f'fill="#FFFFFF">{escape(initials(display_name))}</text></svg>'
    )
