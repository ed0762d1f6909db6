"""Avatars (spec §1.12): letter avatars, upload checks, the save job, and the picture view."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from avatar_helpers import bomb_png, dispose_engines, png
from PIL import Image
from sqlalchemy import func, select

from onboarding import tasks
from onboarding.avatars import service as avatars
from onboarding.avatars.images import AvatarError, check_upload
from onboarding.avatars.letter import LETTER_AVATAR_COLORS, color, initials, letter_avatar_svg
from onboarding.avatars.models import AvatarType, AvatarUpload, OrganizationAvatar, UserAvatar
from onboarding.extensions import db
from onboarding.files import service as files
from onboarding.files.models import File, FileBlob, FileBlobIndex
from onboarding.files.storage import get_storage
from tests.factories import default_org, login, make_member, make_user

LIMITS = {"max_size": 5_000_000, "max_pixels": 4096 * 4096}


@pytest.fixture(autouse=True)
def _files_path(settings, tmp_path):
    settings["FILES_PATH"] = str(tmp_path / "files")
    yield
    dispose_engines()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def owner_client(client):
    user = make_user("owner@example.com", name="Olive Owner")
    make_member(default_org(), user, "owner")
    login(client, user.email)
    return user


def upload_org_avatar(client, data: bytes, filename: str = "me.png", **kw):
    org = default_org()
    return client.post(
        f"/organizations/{org.slug}/settings/avatar/",
        data={"avatar_photo": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
        **kw,
    )


# --- letter avatars ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [("Jane Doe", "JD"), ("  jane  ", "J"), ("", "?"), (None, "?"), ("ada b. lovelace", "AL"), ("   ", "?")],
)
def test_initials(name, expected):
    assert initials(name) == expected


def test_letter_colour_formula():
    ident = "acme"
    assert color(ident) == LETTER_AVATAR_COLORS[sum(map(ord, ident)) % 12]
    assert color("") == LETTER_AVATAR_COLORS[0]
    assert len(LETTER_AVATAR_COLORS) == 12 and LETTER_AVATAR_COLORS[0] == "#4674ca"


def test_letter_avatar_svg_shape_and_escaping():
    svg = str(letter_avatar_svg("<b> & co", "acme"))
    assert svg.startswith('<svg viewBox="0 0 120 120" xmlns="http://www.w3.org/2000/svg"')
    assert '<rect x="0" y="0" width="120" height="120" rx="15" ry="15" fill="' + color("acme") + '">' in svg
    assert 'font-size="65"' in svg and 'fill="#FFFFFF"' in svg and 'text-anchor="middle"' in svg
    assert ">&lt;C</text>" in svg  # "<b>" and "co": initials "<C", escaped
    assert "<b>" not in svg


# --- upload checks ----------------------------------------------------------------------------


def test_format_is_judged_by_content_not_name():
    assert check_upload(png(), **LIMITS) == (300, 300)
    assert check_upload(png(fmt="JPEG"), **LIMITS) == (300, 300)
    assert check_upload(png(fmt="GIF"), **LIMITS) == (300, 300)
    for bad in (b"not an image at all", png(fmt="BMP"), png(fmt="WEBP"), b"<svg xmlns='x'></svg>"):
        with pytest.raises(AvatarError, match="Invalid image format."):
            check_upload(bad, **LIMITS)


def test_truncated_image_is_refused():
    with pytest.raises(AvatarError, match="Invalid image format."):
        check_upload(png()[:-30], **LIMITS)


def test_small_images_refused_non_square_accepted():
    for w, h in ((63, 63), (63, 300), (300, 10)):
        with pytest.raises(AvatarError, match="Invalid image dimensions."):
            check_upload(png(w, h), **LIMITS)
    assert check_upload(png(64, 300), **LIMITS) == (64, 300)


def test_too_many_bytes_is_413():
    with pytest.raises(AvatarError) as info:
        check_upload(b"x" * 101, max_size=100, max_pixels=10**6)
    assert info.value.status == 413 and info.value.message == "Image too large"


@pytest.fixture(scope="module")
def bomb(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("bomb") / "bomb.png"
    path.write_bytes(bomb_png(12000))
    return path


def test_decompression_bomb_is_refused_fast_with_little_memory(bomb):
    data = bomb.read_bytes()
    assert 100_000 < len(data) < 200_000  # ~140 KB that decodes to 144 megapixels
    check_upload(png(), **LIMITS)  # Pillow's format plugins are imported on first use; not timed
    started = time.perf_counter()
    with pytest.raises(AvatarError, match="too many pixels"):
        check_upload(data, **LIMITS)
    assert time.perf_counter() - started < 0.1  # well under a millisecond when warm
    # Memory, measured in a child process of its own: decoding would need ≥ 144 MB.
    script = textwrap.dedent(
        f"""
        import resource, sys
        from onboarding.avatars.images import check_upload, AvatarError
        data = open({str(bomb)!r}, "rb").read()
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        try:
            check_upload(data, max_size=5_000_000, max_pixels=4096 * 4096)
        except AvatarError as exc:
            print("refused:", exc.message)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print("grew_kb", after - before)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert "refused: Image has too many pixels" in out
    grew_kb = int(out.split("grew_kb")[1])
    assert grew_kb < 20_000, out  # far below the 144 MB a decode would take


def test_bomb_upload_through_the_page_is_refused(client, bomb):
    owner_client(client)
    resp = upload_org_avatar(client, bomb.read_bytes())
    assert resp.status_code == 422
    assert "too many pixels" in resp.get_data(as_text=True)
    assert count(AvatarUpload) == 0


def test_size_limit_is_enforced_before_the_body_is_read(client):
    owner_client(client)

    class Body(io.RawIOBase):
        read_bytes = 0

        def readable(self):
            return True

        def seekable(self):
            return True

        def tell(self):
            return 0

        def seek(self, pos, whence=0):
            return 0

        def readinto(self, buf):
            n = min(len(buf), 65536)
            buf[:n] = b"x" * n
            Body.read_bytes += n
            return n

    org = default_org()
    resp = client.post(
        f"/organizations/{org.slug}/settings/avatar/",
        content_type="multipart/form-data; boundary=xyz",
        environ_overrides={"wsgi.input": Body(), "CONTENT_LENGTH": "50000000"},
    )
    assert resp.status_code == 413
    assert "Image too large" in resp.get_data(as_text=True)
    assert Body.read_bytes == 0


def test_body_without_length_is_cut_at_the_limit(client, settings):
    owner_client(client)
    big = b'--xyz\r\nContent-Disposition: form-data; name="avatar_photo"; filename="a.png"\r\n\r\n'
    big += b"x" * 6_000_000 + b"\r\n--xyz--\r\n"
    org = default_org()
    resp = client.post(
        f"/organizations/{org.slug}/settings/avatar/",
        data=big,
        content_type="multipart/form-data; boundary=xyz",
    )
    assert resp.status_code == 413


# --- saving through the job -------------------------------------------------------------------


def test_upload_replaces_letter_avatar(client):
    owner_client(client)
    org = default_org()
    page = client.get(f"/organizations/{org.slug}/settings/avatar/").get_data(as_text=True)
    assert 'viewBox="0 0 120 120"' in page and 'id="avatar-image"' not in page
    resp = upload_org_avatar(client, png(400, 200, (10, 200, 10)), filename="picture.txt")
    assert resp.status_code == 303
    status_page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "Your new picture is saved." in status_page and 'id="avatar-image"' in status_page
    avatar = db.session.scalar(select(OrganizationAvatar))
    assert avatar.avatar_type == AvatarType.UPLOAD and len(avatar.ident) == 32
    stored = Image.open(io.BytesIO(files.read_bytes(avatar.file_id)))
    assert stored.format == "PNG" and stored.size == (200, 200)  # cropped to the square
    assert stored.getpixel((100, 100))[:3] == (10, 200, 10)
    upload = db.session.scalar(select(AvatarUpload))
    assert upload.status == "done" and upload.data is None and upload.ident == avatar.ident
    assert avatars.serialize("organization", org.id) == {
        "avatarType": "upload",
        "avatarUuid": avatar.ident,
        "avatarUrl": f"/organization-avatar/{avatar.ident}/",
    }


def test_large_pictures_are_shrunk_to_1024(client):
    owner_client(client)
    upload_org_avatar(client, png(1500, 1300))
    avatar = db.session.scalar(select(OrganizationAvatar))
    assert Image.open(io.BytesIO(files.read_bytes(avatar.file_id))).size == (1024, 1024)


def test_replacing_gives_new_ident_and_removes_old_file(client):
    owner_client(client)
    upload_org_avatar(client, png(color=(1, 2, 3)))
    first = db.session.scalar(select(OrganizationAvatar))
    old_ident, old_file = first.ident, first.file_id
    assert client.get(f"/organization-avatar/{old_ident}/").status_code == 200
    upload_org_avatar(client, png(color=(4, 5, 6)))
    db.session.expire_all()
    avatar = db.session.scalar(select(OrganizationAvatar))
    assert avatar.ident != old_ident and avatar.file_id != old_file
    assert db.session.get(File, old_file) is None
    assert count(File) == 1 and count(FileBlob) == 1  # the old blob was collected
    assert len(get_storage().paths()) == 1
    assert client.get(f"/organization-avatar/{old_ident}/").status_code == 404
    assert client.get(f"/organization-avatar/{avatar.ident}/").status_code == 200


def test_failed_decode_in_the_job_is_reported(app, client, monkeypatch):
    owner_client(client)
    from onboarding.avatars import images

    def broken(*a, **k):
        raise AvatarError("Invalid image format.")

    monkeypatch.setattr(images, "square_png", broken)
    resp = upload_org_avatar(client, png())
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "could not be saved: Invalid image format." in page
    assert count(OrganizationAvatar) == 0 and count(File) == 0


def test_a_refused_sha1_collision_fails_the_upload_instead_of_leaving_it_pending(app, client, monkeypatch):
    owner_client(client)
    from onboarding.files import service as files

    def collide(*a, **k):
        raise files.BlobCollision("These bytes collide with a stored chunk's SHA-1; they were not stored.")

    monkeypatch.setattr(files, "create_file", collide)
    resp = upload_org_avatar(client, png())
    page = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "could not be saved: This image could not be stored. Try another image." in page
    assert count(OrganizationAvatar) == 0 and count(File) == 0
    assert avatars.requeue_stale_uploads() == 0  # finished, so never re-queued


def test_job_is_idempotent(app):
    org = default_org()
    upload = avatars.queue_upload("organization", org.id, png(), actor_id=None)
    db.session.commit()  # JOBS_SYNC: the job ran after commit
    snapshot = _rows()
    tasks.save_avatar_upload(upload.id)
    tasks.save_avatar_upload(upload.id)
    assert _rows() == snapshot


def _rows():
    db.session.expire_all()
    return (
        [(a.id, a.ident, a.file_id, a.avatar_type) for a in db.session.scalars(select(OrganizationAvatar))],
        [(f.id, f.checksum, f.size) for f in db.session.scalars(select(File))],
        [(b.id, b.checksum) for b in db.session.scalars(select(FileBlob))],
        [(i.file_id, i.blob_id, i.offset) for i in db.session.scalars(select(FileBlobIndex))],
    )


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_worker_killed_mid_save_then_rerun(app, monkeypatch):
    org = default_org()
    upload = avatars.queue_upload("organization", org.id, png(), actor_id=None)
    db.session.commit()  # queued, not run (JOBS_SYNC off)
    real = files.blob_for_chunk

    def dies_after_storing(chunk, storage=None):
        real(chunk, storage)  # the copy is stored and its row flushed …
        raise SystemExit("worker killed")  # … then the process dies before commit

    monkeypatch.setattr(files, "blob_for_chunk", dies_after_storing)
    from onboarding.database import write_intent

    with write_intent(True), pytest.raises(SystemExit):
        tasks.save_avatar_upload(upload.id)
    db.session.rollback()  # what the database does with a dead connection's transaction
    assert count(File) == 0 and count(FileBlob) == 0 and count(OrganizationAvatar) == 0
    assert db.session.get(AvatarUpload, upload.id).status == "pending"
    assert len(get_storage().paths()) == 1  # the dead run's copy, an orphan now

    monkeypatch.setattr(files, "blob_for_chunk", real)
    with write_intent(True):
        tasks.save_avatar_upload(upload.id)  # the re-delivered job
        tasks.save_avatar_upload(upload.id)  # and once more for good measure
    assert count(File) == 1 and count(FileBlob) == 1 and count(FileBlobIndex) == 1
    assert db.session.get(AvatarUpload, upload.id).status == "done"
    with write_intent(True):
        assert files.sweep_orphans(grace_seconds=0) == 1
        db.session.commit()
    blob = db.session.scalar(select(FileBlob))
    assert get_storage().paths() == [blob.path]


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_htmx_upload_polls_until_the_worker_is_done(app, client):
    owner_client(client)
    resp = upload_org_avatar(client, png(), headers={"HX-Request": "true"})
    assert resp.status_code == 202
    body = resp.get_data(as_text=True)
    assert "<html" not in body and 'hx-trigger="load delay:1s"' in body
    assert "being processed" in body
    status_url = body.split('hx-get="')[1].split('"')[0]
    # Without JavaScript the status page says so and offers a refresh link.
    page = client.get(status_url).get_data(as_text=True)
    assert "<html" in page and "being processed" in page and f'href="{status_url}"' in page
    from onboarding.queue import run_worker

    run_worker(app, ["files"], burst=True)
    done = client.get(status_url, headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in done and 'id="avatar-image"' in done
    assert "/organization-avatar/" in done


# --- the picture view --------------------------------------------------------------------------


def test_photo_view_sizes_headers_and_no_cookies(client):
    owner_client(client)
    upload_org_avatar(client, png(500, 500))
    ident = db.session.scalar(select(OrganizationAvatar)).ident
    resp = client.get(f"/organization-avatar/{ident}/")
    assert resp.status_code == 200 and resp.mimetype == "image/png"
    assert Image.open(io.BytesIO(resp.data)).size == (500, 500)
    assert "max-age=315360000" in resp.headers["Cache-Control"]
    assert "Set-Cookie" not in resp.headers and "Cookie" not in resp.headers.get("Vary", "")
    for asked, served in (("48", 48), ("50", 48), ("1000", 120), ("0", 20), ("-5", 20), ("120", 120)):
        r = client.get(f"/organization-avatar/{ident}/?s={asked}")
        assert r.status_code == 200
        assert Image.open(io.BytesIO(r.data)).size == (served, served)
        assert "Set-Cookie" not in r.headers
    assert client.get(f"/organization-avatar/{ident}/?s=big").status_code == 400
    assert client.get("/organization-avatar/" + "0" * 32 + "/").status_code == 404
    assert client.get(f"/avatar/{ident}/").status_code == 404  # an organization's, not a user's


def test_resized_pictures_are_cached(client, app):
    owner_client(client)
    upload_org_avatar(client, png())
    ident = db.session.scalar(select(OrganizationAvatar)).ident
    first = client.get(f"/organization-avatar/{ident}/?s=32").data
    from onboarding.redisconn import get_redis

    assert get_redis().get(f"avatar-photo:{ident}:32") == first
    get_redis().set(f"avatar-photo:{ident}:32", b"cached")
    assert client.get(f"/organization-avatar/{ident}/?s=32").data == b"cached"


def test_photo_view_does_not_touch_the_session(client, app):
    user = owner_client(client)
    upload_org_avatar(client, png())
    ident = db.session.scalar(select(OrganizationAvatar)).ident
    from onboarding.accounts.models import UserSession

    record = db.session.scalar(select(UserSession).where(UserSession.user_id == user.id))
    from datetime import timedelta

    record.last_seen_at = record.last_seen_at - timedelta(days=1)
    db.session.commit()
    seen = record.last_seen_at
    client.get(f"/organization-avatar/{ident}/?s=64")
    db.session.expire_all()
    assert db.session.get(UserSession, record.id).last_seen_at == seen


def test_letter_type_keeps_the_stored_file(client):
    owner_client(client)
    upload_org_avatar(client, png())
    org = default_org()
    resp = client.post(f"/organizations/{org.slug}/settings/avatar/", data={"avatar_type": "letter_avatar"})
    assert resp.status_code == 303
    avatar = db.session.scalar(select(OrganizationAvatar))
    assert avatar.avatar_type == AvatarType.LETTER_AVATAR and avatar.file_id is not None
    page = client.get(f"/organizations/{org.slug}/settings/avatar/").get_data(as_text=True)
    assert 'viewBox="0 0 120 120"' in page


def test_upload_type_without_picture_is_refused(client):
    owner_client(client)
    org = default_org()
    resp = client.post(f"/organizations/{org.slug}/settings/avatar/", data={"avatar_type": "upload"})
    assert resp.status_code == 422
    assert "Cannot set avatarType to upload without avatar" in resp.get_data(as_text=True)
    resp = client.post(f"/organizations/{org.slug}/settings/avatar/", data={"avatar_type": "gravatar"})
    assert resp.status_code == 422 and "Invalid avatar type." in resp.get_data(as_text=True)
    resp = client.post(f"/organizations/{org.slug}/settings/avatar/", data={})
    assert resp.status_code == 422 and "Choose a picture to upload." in resp.get_data(as_text=True)


@pytest.mark.parametrize("role", ["member", "admin", "manager"])
def test_only_owners_change_the_organization_avatar(client, role):
    user = make_user()
    make_member(default_org(), user, role)
    login(client, user.email)
    assert upload_org_avatar(client, png()).status_code == 403
    assert count(AvatarUpload) == 0


# --- user avatars -------------------------------------------------------------------------------


def test_user_avatar_upload_and_gravatar(client):
    user = make_user("grace@example.com", name="Grace Hopper")
    login(client, user.email)
    page = client.get("/account/settings/avatar/").get_data(as_text=True)
    assert ">GH</text>" in page
    resp = client.post(
        "/account/settings/avatar/",
        data={"avatar_photo": (io.BytesIO(png()), "me.jpg")},
        content_type="multipart/form-data",
    )
    assert resp.status_code == 303
    avatar = db.session.scalar(select(UserAvatar))
    assert avatar.avatar_type == AvatarType.UPLOAD
    assert client.get(f"/avatar/{avatar.ident}/?s=96").status_code == 200
    assert client.get(f"/organization-avatar/{avatar.ident}/").status_code == 404
    resp = client.post("/account/settings/avatar/", data={"avatar_type": "gravatar"})
    assert resp.status_code == 303
    page = client.get("/account/settings/avatar/").get_data(as_text=True)
    assert "https://www.gravatar.com/avatar/" in page
    db.session.expire_all()
    assert db.session.scalar(select(UserAvatar)).file_id is not None  # kept for switching back


def test_user_status_page_is_private(client):
    a = make_user()
    login(client, a.email)
    client.post(
        "/account/settings/avatar/",
        data={"avatar_photo": (io.BytesIO(png()), "me.png")},
        content_type="multipart/form-data",
    )
    upload_id = db.session.scalar(select(AvatarUpload.id))
    b = make_user()
    client.post("/auth/logout/")
    login(client, b.email)
    assert client.get(f"/account/settings/avatar/{upload_id}/").status_code == 404


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_gc_command_requeues_stalled_uploads_and_collects(app, runner):
    from datetime import timedelta

    org = default_org()
    upload = avatars.queue_upload("organization", org.id, png(), actor_id=None)
    upload.created_at = upload.created_at - timedelta(hours=1)
    db.session.commit()
    from onboarding.queue import get_queue

    get_queue("files").empty()  # the job was lost (say Redis was down at commit)
    orphan = get_storage()
    orphan.save("ab/cdef/" + "1" * 26, b"left behind")
    result = runner.invoke(args=["files", "gc", "--grace-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert "1 orphaned stored copy(ies)" in result.output and "re-queued 1 stalled" in result.output
    assert get_queue("files").count == 1
    from onboarding.queue import run_worker

    run_worker(app, ["files"], burst=True)
    db.session.expire_all()
    assert db.session.get(AvatarUpload, upload.id).status == "done"


KILL_SCRIPT = """
import json, os, sys, time
from onboarding import create_app
from onboarding.files import service as files

cfg = json.loads(sys.argv[2])
app = create_app(cfg)
real = files.blob_for_chunk

def stalls_after_storing(chunk, storage=None):
    blob = real(chunk, storage)  # copy stored, row flushed, transaction open
    with open(sys.argv[3], "w") as fh:
        fh.write("stored")
    time.sleep(120)
    return blob

files.blob_for_chunk = stalls_after_storing
with app.app_context():
    from onboarding import tasks
    tasks.save_avatar_upload(int(sys.argv[1]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False}])
def test_worker_process_sigkilled_mid_save_then_rerun(app, settings, tmp_path, database_url, redis_url):
    """A real process dies with its save transaction open; the re-delivered job starts clean."""
    import json
    import signal

    from tests.conftest import base_config

    org = default_org()
    upload = avatars.queue_upload("organization", org.id, png(), actor_id=None)
    db.session.commit()
    signal_file = tmp_path / "stored"
    cfg = base_config(database_url, redis_url, **settings)
    proc = subprocess.Popen(
        [sys.executable, "-c", KILL_SCRIPT, str(upload.id), json.dumps(cfg), str(signal_file)],
        cwd=Path(__file__).resolve().parent.parent,
    )
    try:
        deadline = time.monotonic() + 90
        while not signal_file.exists():
            assert proc.poll() is None, "the job process exited early"
            assert time.monotonic() < deadline, "the job never reached the middle of its save"
            time.sleep(0.05)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    db.session.expire_all()
    assert count(File) == 0 and count(FileBlob) == 0 and count(OrganizationAvatar) == 0
    assert db.session.get(AvatarUpload, upload.id).status == "pending"
    assert len(get_storage().paths()) == 1  # the dead process's copy
    from onboarding.database import write_intent

    with write_intent(True):
        tasks.save_avatar_upload(upload.id)
    db.session.expire_all()
    assert db.session.get(AvatarUpload, upload.id).status == "done"
    assert count(File) == 1 and count(FileBlob) == 1 and count(FileBlobIndex) == 1
    assert count(OrganizationAvatar) == 1
    with write_intent(True):
        assert files.sweep_orphans(grace_seconds=0) == 1
        db.session.commit()
    assert get_storage().paths() == [db.session.scalar(select(FileBlob.path))]


def test_too_large_htmx_upload_gets_a_swappable_message(client):
    owner_client(client)
    org = default_org()
    resp = client.post(
        f"/organizations/{org.slug}/settings/avatar/",
        content_type="multipart/form-data; boundary=xyz",
        headers={"HX-Request": "true"},
        environ_overrides={"wsgi.input": io.BytesIO(b""), "CONTENT_LENGTH": "50000000"},
    )
    assert resp.status_code == 422
    assert resp.headers["HX-Retarget"] == "#avatar-error"
    assert "Image too large: at most 5 MB." in resp.get_data(as_text=True)


def test_gc_removes_pictures_of_deleted_owners(app, runner):
    user = make_user()
    avatars.queue_upload("user", user.id, png(), actor_id=user.id)
    db.session.commit()
    org_upload = avatars.queue_upload("organization", default_org().id, png(color=(9, 9, 9)), actor_id=None)
    db.session.commit()
    assert org_upload.status == "done" and count(File) == 2
    db.session.delete(user)  # its avatar row goes with it; the file stays behind
    db.session.commit()
    assert count(UserAvatar) == 0 and count(File) == 2
    result = runner.invoke(args=["files", "gc", "--grace-seconds", "0"])
    assert result.exit_code == 0, result.output
    assert "Deleted 1 orphaned avatar file(s)" in result.output
    db.session.expire_all()
    assert count(File) == 1 and count(FileBlob) == 1
    assert db.session.scalar(select(OrganizationAvatar)).file_id is not None
    assert len(get_storage().paths()) == 1
