"""Checking an uploaded image before it costs anything, and making the stored square PNG.

Order matters: the byte size first, then the format from the content (not the name), then the
pixel count read from the header — Pillow's ``open`` is lazy, so a decompression bomb (a small PNG
that decodes to 144 megapixels) is refused before a single row is decoded.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image, UnidentifiedImageError

# Our pixel limit (checked from the header, before decoding) is far stricter than Pillow's warning.
warnings.filterwarnings("ignore", category=Image.DecompressionBombWarning)

ALLOWED_FORMATS = ("PNG", "JPEG", "GIF")
MIN_SIDE = 64
MAX_STORED_SIDE = 1024


class AvatarError(ValueError):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def _open(data: bytes) -> Image.Image:
    try:
        return Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
    except Image.DecompressionBombError:
        raise AvatarError("Image has too many pixels.") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise AvatarError("Invalid image format.") from None


def check_upload(data: bytes, *, max_size: int, max_pixels: int) -> tuple[int, int]:
    """Raise :class:`AvatarError` unless ``data`` is an acceptable avatar; returns (width, height)."""
    if len(data) > max_size:
        raise AvatarError("Image too large", 413)
    if not data:
        raise AvatarError("Invalid image format.")
    image = _open(data)
    width, height = image.size
    if width * height > max_pixels:
        raise AvatarError(
            f"Image has too many pixels ({width}×{height}); at most {max_pixels:,} pixels are allowed."
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise AvatarError("Invalid image dimensions.")
    try:
        image.verify()  # structure and checksums, without decoding the pixels
    except Exception:  # noqa: BLE001 - Pillow raises many kinds for damaged files
        raise AvatarError("Invalid image format.") from None
    return width, height


def square_png(data: bytes, *, max_pixels: int) -> bytes:
    """Crop the centre square, shrink it to at most 1024 px a side and re-encode as PNG."""
    image: Image.Image = _open(data)
    width, height = image.size
    if width * height > max_pixels or min(width, height) < MIN_SIDE:
        raise AvatarError("Invalid image dimensions.")
    if image.format == "JPEG" and min(width, height) > MAX_STORED_SIDE:
        # Decode at a reduced scale (1/2, 1/4, 1/8) that still leaves the short side at least what is
        # stored: a 4096² JPEG decodes to 1024² (4 MiB) instead of 4096² (48 MiB). PNG and GIF cannot.
        scale = MAX_STORED_SIDE / min(width, height)
        image.draft("RGB", (max(1, int(width * scale)), max(1, int(height * scale))))
        width, height = image.size
    try:
        image.seek(0)  # first frame of an animation
        image.load()
    except Exception:  # noqa: BLE001
        raise AvatarError("Invalid image format.") from None
    image = image.convert("RGBA") if image.mode not in ("RGB", "RGBA") else image
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side > MAX_STORED_SIDE:
        image = image.resize((MAX_STORED_SIDE, MAX_STORED_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def resized_png(data: bytes, size: int) -> bytes:
    image: Image.Image = Image.open(io.BytesIO(data), formats=("PNG",))
    image = image.resize((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
