"""Benchmark the file store: save and read back a large file, beside the physical limit.

    .venv/bin/python bench/files.py [--size-mib 100] [--repeat 3] [--backend folder|database|both]
                                    [--pg postgresql+psycopg://USER@HOST:PORT/ADMIN_DB]

For each round, fresh random bytes (so deduplication never shortcuts a save) are written to a plain
file with their SHA-1 computed and one fsync (the physical limit), then saved with ``putfile`` (+
commit) and read back (1 MiB reads, and the prefetching reader) on each backend; then the same bytes
are saved again (the deduplicated re-save: no blob written, every stored chunk compared). Prints the
median MB/s (min–max) of each, the save's ratio to the physical limit, the bytes the re-save read and
wrote, the peak Python memory of a save (tracemalloc, in a separate untimed save) and the peak RSS
growth during a timed save.

The database is always one this run creates: a SQLite file in a temporary folder, or with ``--pg`` a
new PostgreSQL database (made through the given server's admin database, dropped at the end).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def plain_write(data: bytes, folder: Path) -> float:
    path = folder / "plain.bin"
    start = time.perf_counter()
    digest = hashlib.sha1(usedforsecurity=False)
    with path.open("wb") as fh:
        for offset in range(0, len(data), MiB):
            piece = data[offset : offset + MiB]
            digest.update(piece)
            fh.write(piece)
        fh.flush()
        os.fsync(fh.fileno())
    digest.hexdigest()
    elapsed = time.perf_counter() - start
    path.unlink()
    return elapsed


def make_app(backend: str, workdir: Path, database_url: str | None) -> Any:
    from onboarding import create_app

    url = database_url or f"sqlite:///{workdir / f'bench-{backend}.sqlite3'}"
    app = create_app(
        {
            "DATABASE_URL": url,
            "REDIS_URL": "redis://127.0.0.1:1/0",  # not used: nothing is queued
            "SECRET_KEY": "bench",
            "FILES_STORAGE": backend,
            "FILES_PATH": str(workdir / f"files-{backend}"),
        }
    )
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()  # a database this run created, so it starts empty
    return app


def io_counts() -> tuple[int, int]:
    """Bytes this process has read and written through system calls (page cache included)."""
    import psutil

    c = psutil.Process().io_counters()
    return c.read_chars, c.write_chars


def save(payload: bytes) -> tuple[float, int]:
    from onboarding.extensions import db
    from onboarding.files import service as files
    from onboarding.files.models import File

    start = time.perf_counter()
    file = File(name="bench.bin", type="bench", headers={})
    files.putfile(file, io.BytesIO(payload))
    db.session.commit()
    return time.perf_counter() - start, file.id


def read_back(file_id: int, expected: str, *, prefetch: bool) -> float:
    from onboarding.files import service as files

    start = time.perf_counter()
    digest = hashlib.sha1(usedforsecurity=False)
    with files.getfile(file_id, prefetch=prefetch) as fh:
        while piece := fh.read(MiB):
            digest.update(piece)
    elapsed = time.perf_counter() - start
    assert digest.hexdigest() == expected, "read back differs"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--backend", choices=("folder", "database", "both"), default="both")
    parser.add_argument(
        "--pg",
        default=None,
        help="a PostgreSQL server's admin database URL: a new database is created there and dropped after",
    )
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from bench.scratchdb import scratch_database

    if args.pg:
        with scratch_database(args.pg, "files") as url:
            run(args, url)
    else:
        run(args, None)


def run(args: argparse.Namespace, database_url: str | None) -> None:
    backends = ("folder", "database") if args.backend == "both" else (args.backend,)
    size = args.size_mib * MiB
    times: dict[str, list[float]] = defaultdict(list)
    memory: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="onboarding-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["ONBOARDING_INSTANCE_PATH"] = str(workdir / "instance")
        apps = {b: make_app(b, workdir, database_url) for b in backends}
        resave: dict[str, tuple[float, int, int]] = {}
        for _ in range(args.repeat):
            data = os.urandom(size)
            checksum = hashlib.sha1(data, usedforsecurity=False).hexdigest()
            times["plain file write + SHA-1 + fsync"].append(plain_write(data, workdir))
            for backend, app in apps.items():
                with app.app_context():
                    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
                    save_s, file_id = save(data)
                    rss_growth = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
                    times[f"{backend} save"].append(save_s)
                    times[f"{backend} read (1 MiB reads)"].append(
                        read_back(file_id, checksum, prefetch=False)
                    )
                    times[f"{backend} read (prefetch)"].append(read_back(file_id, checksum, prefetch=True))
                    read0, written0 = io_counts()
                    again_s, _ = save(data)  # identical bytes: every chunk deduplicated
                    read1, written1 = io_counts()
                    times[f"{backend} identical re-save"].append(again_s)
                    resave[backend] = (again_s, read1 - read0, written1 - written0)
                    if backend not in memory:
                        other = os.urandom(size)
                        tracemalloc.start()
                        save(other)
                        peak = tracemalloc.get_traced_memory()[1]
                        tracemalloc.stop()
                        del other
                        memory[backend] = (peak / MiB, rss_growth)
            del data
    print(f"{args.size_mib} MiB of random bytes, 1 MiB blobs, median of {args.repeat} rounds (min–max)")
    medians: dict[str, float] = {}
    for name, samples in times.items():
        rates = sorted(size / 1e6 / s for s in samples)
        medians[name] = statistics.median(rates)
        note = "   <- physical limit" if name.startswith("plain") else ""
        print(f"  {name:34} {medians[name]:7.1f} MB/s  ({rates[0]:.0f}–{rates[-1]:.0f}){note}")
    limit = medians["plain file write + SHA-1 + fsync"]
    for backend in backends:
        peak, growth = memory[backend]
        _, read, written = resave[backend]
        print(
            f"SUMMARY putfile {backend}: {args.size_mib} MiB save at {medians[f'{backend} save'] / limit:.2f} of "
            f"raw write + SHA-1 (goal >= 0.70); peak extra memory {peak:.1f} MiB tracemalloc, RSS +{growth:.0f} MiB "
            f"(goal <= 3 MiB); identical re-save read {read / MiB:.0f} MiB, wrote {written / MiB:.1f} MiB "
            f"(goal: reads no more than it must, {args.size_mib} MiB to compare)"
        )


if __name__ == "__main__":
    main()
