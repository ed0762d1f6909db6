"""The chunked, deduplicated file store (spec §1.13) on both storage backends."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from datetime import timedelta

import pytest
from avatar_helpers import dispose_engines
from sqlalchemy import func, select

from onboarding.extensions import db, utcnow
from onboarding.files import service as files
from onboarding.files.models import BlobData, File, FileBlob, FileBlobIndex
from onboarding.files.storage import FolderStorage, generate_unique_path, get_storage


@pytest.fixture(autouse=True)
def _files_path(settings, tmp_path):
    settings["FILES_PATH"] = str(tmp_path / "files")
    yield
    dispose_engines()


@pytest.fixture(params=["folder", "database"])
def backend(request, settings):
    settings["FILES_STORAGE"] = request.param
    return request.param


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def stored_paths() -> list[str]:
    return get_storage().paths()


def new_file(data: bytes, blob_size: int = files.DEFAULT_BLOB_SIZE, name: str = "f.bin") -> File:
    file = File(name=name, type="test.file", headers={})
    files.putfile(file, io.BytesIO(data), blob_size=blob_size)
    db.session.commit()
    return file


def test_putfile_offsets_size_and_checksum(backend, app):
    file = File(name="x", type="t", headers={})
    rows = files.putfile(file, io.BytesIO(b"1234567"), blob_size=3)
    db.session.commit()
    assert [r.offset for r in rows] == [0, 3, 6]
    assert file.size == 7
    assert file.checksum == hashlib.sha1(b"1234567").hexdigest()
    assert [r.blob.size for r in rows] == [3, 3, 1]
    assert files.read_bytes(file) == b"1234567"
    assert len(stored_paths()) == 3


def test_one_mib_blobs(backend, app):
    data = os.urandom(files.DEFAULT_BLOB_SIZE * 2 + 10)
    file = new_file(data)
    sizes = [i.blob.size for i in file.indexes]
    assert sizes == [files.DEFAULT_BLOB_SIZE, files.DEFAULT_BLOB_SIZE, 10]
    assert files.read_bytes(file) == data


def test_empty_file(backend, app):
    file = new_file(b"")
    assert file.size == 0 and file.checksum == hashlib.sha1(b"").hexdigest()
    assert count(FileBlob) == 0
    with files.getfile(file) as fh:
        assert fh.read() == b""
        fh.seek(0)
        assert fh.tell() == 0


def test_same_content_is_stored_once(backend, app):
    a = new_file(b"hello world", blob_size=4)
    b = new_file(b"hello world", blob_size=4)
    assert [i.blob_id for i in a.indexes] == [i.blob_id for i in b.indexes]
    assert count(FileBlob) == 3 and count(FileBlobIndex) == 6
    assert len(stored_paths()) == 3
    # Repeated chunks inside one file are stored once too.
    c = new_file(b"abcabcabc", blob_size=3)
    assert len({i.blob_id for i in c.indexes}) == 1


def test_storage_path_is_random_not_the_checksum(backend, app):
    file = new_file(b"some bytes")
    blob = file.indexes[0].blob
    assert blob.checksum not in blob.path
    parts = blob.path.split("/")
    assert [len(p) for p in parts] == [2, 4, 26]
    assert generate_unique_path() != generate_unique_path()


def test_putfile_refuses_a_file_with_contents(backend, app):
    file = new_file(b"abc")
    with pytest.raises(ValueError, match="already has contents"):
        files.putfile(file, io.BytesIO(b"def"))


@pytest.mark.parametrize("settings", [{"FILES_STORAGE": "database"}])
def test_database_backend_rows(app, settings):
    new_file(b"x" * 10, blob_size=4)
    assert count(BlobData) == 2  # "xxxx" twice is one blob, "xx" another
    assert not os.path.exists(os.path.join(app.instance_path, "files", "nothing"))


def test_reader_read_seek_tell_across_blobs(backend, app):
    data = bytes(range(256)) * 40  # 10,240 bytes
    file = new_file(data, blob_size=1000)
    with files.getfile(file) as fh:
        assert fh.size == len(data)
        assert fh.read(10) == data[:10]
        assert fh.tell() == 10
        fh.seek(995)
        assert fh.read(10) == data[995:1005]  # across a blob boundary
        assert fh.seek(-5, os.SEEK_CUR) == 1000
        assert fh.read(3) == data[1000:1003]
        assert fh.seek(-24, os.SEEK_END) == len(data) - 24
        assert fh.read() == data[-24:]
        assert fh.tell() == len(data)
        assert fh.read() == b""
        fh.seek(0)
        assert fh.read() == data
        fh.seek(1000 * 3)
        assert fh.read(1) == data[3000:3001]


def test_reader_seek_past_end_and_negative(backend, app):
    file = new_file(b"1234567", blob_size=3)
    with files.getfile(file) as fh:
        assert fh.seek(1000) == 1000
        assert fh.tell() == 1000
        assert fh.read() == b""
        assert fh.read(5) == b""
        with pytest.raises(OSError, match="Invalid argument"):
            fh.seek(-1)
        with pytest.raises(OSError, match="Invalid argument"):
            fh.seek(-8, os.SEEK_END)
        with pytest.raises(ValueError, match="Invalid value for whence: 3"):
            fh.seek(0, 3)
        fh.seek(-1, os.SEEK_END)
        assert fh.read() == b"7"


def test_reader_errors_after_close(backend, app):
    file = new_file(b"1234567", blob_size=3)
    fh = files.getfile(file)
    fh.read(4)
    fh.close()
    for call in (fh.read, fh.tell, lambda: fh.seek(0)):
        with pytest.raises(ValueError, match="I/O operation on closed file"):
            call()
    fh.close()  # closing twice is harmless


def test_reader_prefetch(backend, app):
    data = os.urandom(5 * 1024 * 1024 + 123)
    file = new_file(data, blob_size=1024 * 1024)
    with files.getfile(file, prefetch=True) as fh:
        assert fh.read(100) == data[:100]
        fh.seek(3 * 1024 * 1024 - 7)
        assert fh.read(14) == data[3 * 1024 * 1024 - 7 : 3 * 1024 * 1024 + 7]
        fh.seek(0)
        assert hashlib.sha1(fh.read()).hexdigest() == file.checksum
        fh.seek(10**9)
        assert fh.tell() == 10**9 and fh.read() == b""
    with files.getfile(new_file(b""), prefetch=True) as fh:
        assert fh.read() == b""


def test_reader_save_to(backend, app, tmp_path):
    data = os.urandom(3000)
    file = new_file(data, blob_size=1000)
    target = tmp_path / "out.bin"
    with files.getfile(file) as fh:
        fh.save_to(target)
    assert target.read_bytes() == data


def test_delete_file_collects_only_unshared_blobs(backend, app):
    a = new_file(b"aaaabbbb", blob_size=4)
    b = new_file(b"aaaacccc", blob_size=4)
    assert count(FileBlob) == 3
    files.delete_file(a)  # JOBS_SYNC: the collection job runs right after commit
    db.session.commit()
    checksums = set(db.session.scalars(select(FileBlob.checksum)))
    assert checksums == {hashlib.sha1(b"aaaa").hexdigest(), hashlib.sha1(b"cccc").hexdigest()}
    assert len(stored_paths()) == 2
    assert files.read_bytes(b) == b"aaaacccc"
    assert db.session.get(File, a.id) is None


def test_blob_in_use_cannot_be_deleted(backend, app):
    a = new_file(b"shared", blob_size=100)
    blob_id = a.indexes[0].blob_id
    assert files.delete_unreferenced_blobs([blob_id]) == 0
    db.session.commit()
    assert db.session.get(FileBlob, blob_id) is not None


def test_garbage_collection_respects_grace_period(backend, app):
    file = new_file(b"orphan-to-be", blob_size=100)
    blob_id = file.indexes[0].blob_id
    db.session.execute(FileBlobIndex.__table__.delete())
    db.session.execute(File.__table__.delete())
    db.session.commit()
    assert files.collect_garbage(grace_seconds=3600) == (0, 0)  # too young
    db.session.commit()
    assert db.session.get(FileBlob, blob_id) is not None
    from onboarding import tasks

    tasks.collect_file_garbage(0)
    assert db.session.get(FileBlob, blob_id) is None
    assert stored_paths() == []


def test_reused_old_blob_gets_a_fresh_timestamp(backend, app):
    file = new_file(b"old blob")
    blob = file.indexes[0].blob
    blob.timestamp = utcnow() - timedelta(days=2)
    db.session.commit()
    new_file(b"old blob")
    db.session.refresh(blob)
    assert blob.timestamp > utcnow() - timedelta(minutes=1)


def test_orphaned_folder_copies_are_swept(app):
    storage = get_storage()
    assert isinstance(storage, FolderStorage)
    storage.save("ab/cdef/" + "0" * 26, b"left by a dead save")
    new_file(b"kept")
    assert files.sweep_orphans(grace_seconds=3600) == 0
    assert files.sweep_orphans(grace_seconds=0) == 1
    assert len(stored_paths()) == 1
    assert files.read_bytes(db.session.scalars(select(File)).one()) == b"kept"


def test_lost_race_removes_its_copy_and_uses_the_winner(backend, app, monkeypatch):
    """Simulate the race deterministically: the first lookup misses, then the other writer wins."""
    chunk = b"raced chunk"
    winner = new_file(chunk).indexes[0].blob
    real_find = files._find_blob
    calls = {"n": 0}

    def find(checksum):
        calls["n"] += 1
        return None if calls["n"] == 1 else real_find(checksum)

    monkeypatch.setattr(files, "_find_blob", find)
    loser = File(name="loser", type="t", headers={})
    [row] = files.putfile(loser, io.BytesIO(chunk))  # its copy is removed before the final fsync pass
    db.session.commit()
    assert row.blob_id == winner.id
    assert count(FileBlob) == 1
    assert stored_paths() == [winner.path]
    assert files.read_bytes(loser) == chunk


def _parallel_saves(app, data: bytes, n: int) -> list[int]:
    barrier = threading.Barrier(n, timeout=60)
    ids: list[int] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with app.app_context():
                from onboarding.database import write_intent

                with write_intent(True):
                    barrier.wait()
                    file = File(name="same.bin", type="test.file", headers={})
                    files.putfile(file, io.BytesIO(data), blob_size=64 * 1024)
                    db.session.commit()
                    ids.append(file.id)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    return ids


def test_ten_simultaneous_saves_of_the_same_bytes(backend, app):
    data = os.urandom(3 * 64 * 1024 + 5)  # four blobs
    ids = _parallel_saves(app, data, 10)
    db.session.expire_all()
    assert len(ids) == 10
    assert count(FileBlob) == 4
    assert count(FileBlobIndex) == 40
    assert len(stored_paths()) == 4  # every loser removed its copy
    for file_id in ids:
        assert files.read_bytes(file_id) == data


def test_folder_copies_are_fsynced_before_putfile_returns(app, monkeypatch):
    synced: list[int] = []
    real = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real(fd)))
    storage = get_storage()
    assert isinstance(storage, FolderStorage) and storage.fsync
    file = File(name="x", type="t", headers={})
    files.putfile(file, io.BytesIO(b"abcdefgh"), blob_size=3, storage=storage)
    assert storage._unsynced == []
    assert len(synced) >= 3 + 1  # three blobs, and at least one folder holding their names


@pytest.mark.parametrize("settings", [{"FILES_STORAGE": "nowhere"}])
def test_unknown_backend_is_a_config_error(settings, database_url, redis_url):
    from onboarding import create_app
    from onboarding.config import ConfigError
    from tests.conftest import base_config

    with pytest.raises(ConfigError, match="ONBOARDING_FILES_STORAGE must be folder or database"):
        create_app(base_config(database_url, redis_url, **settings))


@pytest.mark.parametrize("other", [b"B" * 4096, b"B" * 4095], ids=["same-size", "other-size"])
def test_a_sha1_collision_is_refused_not_served(backend, app, other):
    """Blobs are shared across users and organizations and SHA-1 collisions can be crafted: a stored
    chunk is reused only when its size and bytes match too (notes §4). The collision is simulated by
    giving the stored blob the checksum of other bytes."""
    original = b"A" * 4096
    blob = files.blob_for_chunk(original)
    db.session.commit()
    blob.checksum = hashlib.sha1(other).hexdigest()
    db.session.commit()
    with pytest.raises(files.BlobCollision):
        files.blob_for_chunk(other)
    db.session.rollback()
    assert count(FileBlob) == 1
    with get_storage().open(db.session.get(FileBlob, blob.id).path) as stored:
        assert stored.read() == original  # the stored bytes were not replaced either


def test_a_deduplicated_chunk_is_compared_in_pieces_and_only_as_far_as_it_matches(backend, app):
    """The byte-compare of a SHA-1 hit reads the stored chunk in small pieces (memory stays one piece)
    and stops at the first piece that differs."""
    size = 4 * files.COMPARE_PIECE
    original = bytes(range(256)) * (size // 256)
    blob = files.blob_for_chunk(original)
    db.session.commit()
    reads: list[int] = []

    class Counting:
        name = get_storage().name

        def __init__(self, inner):
            self.inner = inner

        def open(self, path):
            stored = self.inner.open(path)
            real = stored.read

            def read(n=-1):
                data = real(n)
                reads.append(len(data))
                return data

            stored.read = read
            return stored

    storage = Counting(get_storage())
    assert files.blob_for_chunk(original, storage).id == blob.id
    assert max(reads) <= files.COMPARE_PIECE and sum(reads) == size

    other = b"X" + original[1:]  # differs in the first piece
    blob.checksum = hashlib.sha1(other).hexdigest()
    db.session.commit()
    reads.clear()
    with pytest.raises(files.BlobCollision):
        files.blob_for_chunk(other, storage)
    db.session.rollback()
    assert sum(reads) == files.COMPARE_PIECE  # stopped after the first piece
