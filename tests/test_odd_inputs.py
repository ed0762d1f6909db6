"""No 500 on any input (issue 11): huge ids and page numbers, odd redirect targets, LIKE wildcards."""

from __future__ import annotations

import pytest

from onboarding.extensions import db
from tests.factories import default_org, login, make_member, make_user

TOKEN = "A" * 43  # the shape of a real one-time token
HUGE = ["99999999999999999999999999", str(2**63), str(2**31), "-1", "-99999999999999999999", "0"]


@pytest.fixture
def superuser_client(app):
    user = make_user("root@example.com", superuser=True)
    make_member(default_org(), user, role="owner")
    client = app.test_client()
    assert login(client, "root@example.com").status_code == 303
    return client


def _paths(slug: str, number: str) -> list[tuple[str, str, dict[str, str] | None]]:
    return [
        ("GET", f"/account/recover/confirm/{number}/{TOKEN}/", None),
        ("POST", f"/account/recover/confirm/{number}/{TOKEN}/", {"password": "a long new passphrase"}),
        ("GET", f"/account/confirm-email/{number}/{TOKEN}/", None),
        ("GET", f"/account/change-email/{number}/{TOKEN}/", None),
        ("GET", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("PUT", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("DELETE", f"/api/0/organizations/{slug}/members/{number}/", None),
        ("GET", f"/organizations/{slug}/audit-log/?page={number}", None),
        ("GET", f"/manage/users/?page={number}", None),
        ("GET", f"/manage/errors/?page={number}", None),
        ("POST", "/account/settings/", {"op": "end-session", "session_id": number}),
        ("GET", f"/organizations/{slug}/members/?page={number}", None),
    ]


@pytest.mark.parametrize("number", HUGE)
def test_huge_and_negative_numbers_are_a_clean_4xx_or_the_first_page(superuser_client, number):
    slug = default_org().slug
    for method, path, form in _paths(slug, number):
        if method == "PUT":
            resp = superuser_client.put(path, json={"reinvite": True})
        else:
            resp = superuser_client.open(path, method=method, data=form)
        db.session.rollback()
        assert resp.status_code < 500, (method, path, resp.status_code)
        if "page=" in path:
            assert resp.status_code == 200, path  # a page out of range is the first (or an empty) page


def test_one_page_parser():
    from onboarding.web.converters import page_number

    assert page_number(None) == 1
    assert page_number("") == 1
    assert page_number("3") == 3
    assert page_number(" 3 ") == 1  # only plain digits
    assert page_number("-2") == 1
    assert page_number("0") == 1
    assert page_number("abc") == 1
    assert page_number("٣") == 1  # a digit, but not an ASCII one
    assert page_number(str(10**30)) == 1
    assert page_number(str(2**31)) == 1
    assert page_number("100000") == 100000


# -- 8. Redirect targets are valid header values -------------------------------------------------------

NON_ASCII_NEXT = ["/%E3%80%82x", "/caf%C3%A9/?q=%C3%BC", "/%F0%9F%98%80/"]


@pytest.mark.parametrize("target", NON_ASCII_NEXT)
def test_htmx_sign_in_with_a_non_ascii_next_redirects_with_a_valid_header(app, target):
    make_member(default_org(), make_user("ada@example.com"))
    client = app.test_client()
    assert client.get(f"/auth/login/?next={target}").status_code == 200
    resp = login(client, "ada@example.com", headers={"HX-Request": "true"})
    assert resp.status_code == 204
    value = resp.headers["HX-Redirect"]
    value.encode("latin-1")  # what a WSGI server requires of a header value (gunicorn answered 500)
    assert value.isascii() and value == target.split("?")[0] + (
        "?" + target.split("?")[1] if "?" in target else ""
    )
    # and again: the value kept for the next visit is the quoted one
    assert client.get(value).status_code < 500


@pytest.mark.parametrize("target", NON_ASCII_NEXT)
def test_plain_sign_in_with_a_non_ascii_next_redirects_with_a_valid_location(app, target):
    make_member(default_org(), make_user("ada@example.com"))
    client = app.test_client()
    client.get(f"/auth/login/?next={target}")
    resp = login(client, "ada@example.com")
    assert resp.status_code == 303
    assert resp.headers["Location"].isascii() and resp.headers["Location"].startswith(target[:4])


# -- 12. The Host header is never reflected ------------------------------------------------------------


def test_a_foreign_host_header_is_refused_not_reflected(client):
    resp = client.get("/auth/login", headers={"Host": "evil.com"})  # the trailing-slash redirect
    assert resp.status_code == 400
    assert "evil.com" not in resp.headers.get("Location", "")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"  # our own error page


@pytest.mark.parametrize("host", ["onboarding.test", "localhost", "127.0.0.1:5000"])
def test_the_trailing_slash_redirect_is_relative(client, host):
    resp = client.get("/auth/login", headers={"Host": host})
    assert resp.status_code == 308
    assert resp.headers["Location"] == "/auth/login/"


@pytest.mark.parametrize("settings", [{"ALLOWED_HOSTS": "alt.example.org, .example.net"}])
def test_allowed_hosts_add_to_the_base_url(client, settings):
    assert client.get("/auth/login/", headers={"Host": "alt.example.org"}).status_code == 200
    assert client.get("/auth/login/", headers={"Host": "eu.example.net"}).status_code == 200
    assert client.get("/auth/login/", headers={"Host": "example.org"}).status_code == 400


@pytest.mark.parametrize("settings", [{"ALLOWED_HOSTS": "*"}])
def test_any_host_when_asked(client, settings):
    resp = client.get("/auth/login", headers={"Host": "lan-name:5000"})
    assert resp.status_code == 308 and resp.headers["Location"] == "/auth/login/"


# -- 14. LIKE wildcards in /manage/users/ search are literal ------------------------------------------


def test_user_search_treats_percent_and_underscore_literally(superuser_client):
    make_user("a_b@example.com", name="Under Score")
    make_user("axb@example.com", name="Plain")
    make_user("100%@example.com", name="Per Cent")

    def found(q: str) -> set[str]:
        html = superuser_client.get("/manage/users/", query_string={"q": q}).get_data(as_text=True)
        return {e for e in ("a_b@example.com", "axb@example.com", "100%@example.com") if e in html}

    assert found("a_b") == {"a_b@example.com"}
    assert found("%") == {"100%@example.com"}
    assert found("_") == {"a_b@example.com"}
    assert found("a%b") == set()


# -- 14. Long request lines and headers get our error pages --------------------------------------------


def test_a_long_address_is_414_with_our_headers(client):
    resp = client.get("/auth/login/?next=/" + "a" * 8100)
    assert resp.status_code == 414
    assert resp.headers["X-Content-Type-Options"] == "nosniff" and "Content-Security-Policy" in resp.headers


def test_a_huge_header_is_431_with_our_headers(client):
    resp = client.get("/auth/login/", headers={"X-Padding": "b" * 9000})
    assert resp.status_code == 431
    assert resp.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.slow
def test_gunicorn_lets_long_requests_reach_the_app(tmp_path):
    """The web server serve runs (the very same command): a request line or a header past gunicorn's
    default limits but within ours reaches the app, which answers with its page and headers."""
    import http.client
    import subprocess
    import time

    from onboarding.cli import gunicorn_command
    from tests.conftest import free_port
    from tests.serve_helpers import env_for

    port = free_port()
    env = env_for(
        tmp_path / "instance", ONBOARDING_SECRET_KEY="k", ONBOARDING_BASE_URL=f"http://127.0.0.1:{port}"
    )
    proc = subprocess.Popen(
        gunicorn_command("127.0.0.1", port, workers=1, threads=2),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:

        def get(path: str, headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("GET", path, headers=headers or {})
            return conn.getresponse()

        deadline = time.monotonic() + 60
        while True:
            try:
                assert get("/healthz").status == 200
                break
            except OSError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.3)
        # past gunicorn's default limit (4094): the app answers, with its headers
        long_line = get("/healthz?pad=" + "a" * 6000)  # (this instance has no schema: a page without it)
        assert long_line.status == 200 and long_line.getheader("X-Content-Type-Options") == "nosniff"
        longer = get("/healthz?pad=" + "a" * 8100)
        assert longer.status == 414 and longer.getheader("X-Content-Type-Options") == "nosniff"
        big_header = get("/healthz", {"X-Padding": "b" * 12000})
        assert big_header.status == 431 and big_header.getheader("X-Content-Type-Options") == "nosniff"
    finally:
        proc.terminate()
        proc.wait(20)


# -- Also: avatars decode large JPEGs at a reduced size ------------------------------------------------


@pytest.mark.parametrize(("size", "decoded"), [((4096, 4096), (1024, 1024)), ((4096, 2048), (2048, 1024))])
def test_a_large_jpeg_avatar_is_decoded_reduced(monkeypatch, size, decoded):
    import io

    from PIL import Image

    from onboarding.avatars import images

    buf = io.BytesIO()
    Image.new("RGB", size, (200, 40, 40)).save(buf, format="JPEG", quality=50)
    loaded: list[tuple[int, int]] = []
    real_load = Image.Image.load

    def spy(self):
        loaded.append(self.size)
        return real_load(self)

    monkeypatch.setattr(Image.Image, "load", spy)
    png = images.square_png(buf.getvalue(), max_pixels=4096 * 4096)
    assert loaded and loaded[0] == decoded  # not the full 4096 pixels a side
    out = Image.open(io.BytesIO(png))
    assert out.size == (1024, 1024)
