"""Reading a file back across its blobs (spec §1.13 ``ChunkedFileBlobIndexWrapper``).

``read``/``seek``/``tell`` behave like a regular binary file: all three ``whence`` values, seeking
past the end is allowed (``tell()`` then reports that position and ``read()`` returns ``b""``), a
negative position is refused with ``OSError("Invalid argument")``, and every call after ``close()``
raises ``ValueError("I/O operation on closed file")``. With ``prefetch=True`` all blobs are fetched
at once by four threads into a memory-mapped temporary file, and reads are served from there.
"""

from __future__ import annotations

import bisect
import io
import mmap
import os
import tempfile
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO

READ_PIECE = 32 * 1024
PREFETCH_THREADS = 4


class ChunkedFile(io.RawIOBase):
    def __init__(self, parts: list[tuple[int, int, str]], storage: Any, *, prefetch: bool = False) -> None:
        """``parts``: ``(offset, size, storage path)`` per blob, ordered by offset."""
        super().__init__()
        self._parts = sorted(parts)
        self._offsets = [p[0] for p in self._parts]
        self._storage = storage
        self.size = sum(p[1] for p in self._parts)
        self._pos = 0
        self._current: int | None = None  # index of the open blob
        self._fh: BinaryIO | None = None
        self._prefetched: Any = None
        self._tmp: Any = None
        if prefetch:
            self._prefetch()

    # -- plumbing -------------------------------------------------------------------------------
    def _check(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def _open_part(self, i: int) -> BinaryIO:
        if self._current != i or self._fh is None:
            if self._fh is not None:
                self._fh.close()
            self._fh = None
            self._fh = self._storage.open(self._parts[i][2])
            self._current = i
        assert self._fh is not None
        return self._fh

    def _prefetch(self) -> None:
        self._tmp = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as this reader
        if self.size == 0:
            self._prefetched = io.BytesIO(b"")
            return
        self._tmp.truncate(self.size)  # zero-filled
        view = mmap.mmap(self._tmp.fileno(), self.size)
        read = self._storage.detached_reader()

        def fetch(part: tuple[int, int, str]) -> None:
            offset, size, path = part
            data = read(path)
            if len(data) != size:
                raise OSError(f"blob {path} has {len(data)} bytes, expected {size}")
            view[offset : offset + size] = data

        with ThreadPoolExecutor(PREFETCH_THREADS) as pool:
            list(pool.map(fetch, self._parts))
        self._prefetched = view

    # -- file API -------------------------------------------------------------------------------
    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        self._check()
        if whence == os.SEEK_CUR:
            pos += self._pos
        elif whence == os.SEEK_END:
            pos += self.size
        elif whence != os.SEEK_SET:
            raise ValueError(f"Invalid value for whence: {whence}")
        if pos < 0:
            raise OSError("Invalid argument")
        self._pos = pos
        return pos

    def tell(self) -> int:
        self._check()
        return self._pos

    def read(self, n: int | None = -1) -> bytes:
        self._check()
        want = self.size - self._pos if n is None or n < 0 else min(n, max(self.size - self._pos, 0))
        if want <= 0:
            return b""
        if self._prefetched is not None:
            data = bytes(self._prefetched[self._pos : self._pos + want])
            self._pos += len(data)
            return data
        out = bytearray()
        while len(out) < want:
            i = bisect.bisect_right(self._offsets, self._pos) - 1
            offset, size, _path = self._parts[i]
            fh = self._open_part(i)
            fh.seek(self._pos - offset)
            piece = fh.read(min(READ_PIECE, want - len(out), offset + size - self._pos))
            if not piece:
                raise OSError(f"blob at offset {offset} is shorter than recorded")
            out += piece
            self._pos += len(piece)
        return bytes(out)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if self.closed:
            return
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._prefetched is not None and isinstance(self._prefetched, mmap.mmap):
            self._prefetched.close()
        if self._tmp is not None:
            self._tmp.close()
        super().close()

    def save_to(self, path: str | os.PathLike[str]) -> None:
        """Write the whole file to ``path`` atomically (a temp file beside it, then rename)."""
        self._check()
        target = os.fspath(path)
        if os.path.exists(target):
            return
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(target) or ".", prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as out:
                self.seek(0)
                while piece := self.read(1024 * 1024):
                    out.write(piece)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
