"""Images for avatar tests, made in memory."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def png(
    width: int = 300, height: int = 300, color: tuple[int, int, int] = (200, 30, 30), fmt: str = "PNG"
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), color).save(out, format=fmt)
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return (
        struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    )


def bomb_png(side: int = 12000) -> bytes:
    """A valid greyscale PNG of ``side``×``side`` black pixels, compressed to ~140 KB (for 12000)."""
    compressor = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    parts = [compressor.compress(row) for _ in range(side)]
    parts.append(compressor.flush())
    idat = b"".join(parts)
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def dispose_engines() -> None:
    """Close pooled database connections of every app still alive (a shared PostgreSQL server has a
    connection limit; each test's app has its own engine and pool)."""
    from onboarding.extensions import db

    for engines in list(db._app_engines.values()):
        for engine in engines.values():
            engine.dispose()
