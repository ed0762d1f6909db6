"""Static files fingerprinted and cached for a year; static files and pages compressed (brotli, gzip).

- At start-up each file under ``static/`` gets a copy named after its contents
  (``app.css`` → ``app.<sha256[:12]>.css``) in ``<instance>/static-build/``, with ``.br`` and ``.gz``
  beside it when that is smaller (WhiteNoise's compressor). ``url_for('static', filename=…)`` returns
  the fingerprinted URL, so templates need no change.
- WhiteNoise serves those URLs before Flask sees them: the precompressed variant the browser accepts,
  ``Cache-Control: max-age=315360000, public, immutable`` (a changed file has a new name, so a repeat
  view asks for nothing), and the headers every response of ours carries. Other paths, and the plain
  names under ``/static/``, go to the app as before.
- Flask-Compress compresses the app's own responses (HTML, fragments, JSON) for a browser that asks.

Why libraries: WhiteNoise is the maintained WSGI static server (precompressed variants, ranges,
conditional requests, immutable caching) and Flask-Compress the maintained response compressor
(brotli/gzip negotiation, ``Vary``, minimum size); neither is ours to keep correct.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask

log = logging.getLogger(__name__)

FINGERPRINTED = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
COMPRESS_MIMETYPES = [
    "text/html",
    "text/css",
    "text/plain",
    "text/xml",
    "application/json",
    "application/javascript",
    "text/javascript",
    "image/svg+xml",
]


def _fingerprinted(rel: str, digest: str) -> str:
    folder, _, name = rel.rpartition("/")
    stem, dot, ext = name.rpartition(".")
    hashed = f"{stem}.{digest}.{ext}" if dot and stem else f"{name}.{digest}"
    return f"{folder}/{hashed}" if folder else hashed


def build(static: Path, out: Path) -> dict[str, str]:
    """Copy each static file to its fingerprinted name under ``out`` (once), compressed beside it."""
    from whitenoise.compress import Compressor

    compressor = Compressor(quiet=True)
    manifest: dict[str, str] = {}
    for src in sorted(p for p in static.rglob("*") if p.is_file()):
        rel = src.relative_to(static).as_posix()
        data = src.read_bytes()
        hashed = _fingerprinted(rel, hashlib.sha256(data).hexdigest()[:12])
        target = out / hashed
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            # Several web processes may start at once: each writes its own temporary copy, then renames.
            tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            if compressor.should_compress(str(tmp.with_name(target.name))):
                for variant in compressor.compress(str(tmp)):
                    suffix = variant[len(str(tmp)) :]  # ".gz" or ".br"
                    os.replace(variant, str(target) + suffix)
            os.replace(tmp, target)
        manifest[rel] = hashed
    return manifest


def init_app(app: Flask) -> None:
    from flask_compress import Compress
    from whitenoise import WhiteNoise

    from onboarding.web.security import static_headers

    static = Path(app.static_folder or "static")
    out = Path(app.instance_path) / "static-build"
    try:
        manifest = build(static, out)
    except OSError:  # a read-only instance folder: plain static files, as before
        log.warning("could not fingerprint the static files in %s", out, exc_info=True)
        manifest = {}

    @app.url_defaults
    def _fingerprint(endpoint: str, values: dict[str, Any]) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])

    def _data_uri(filename: str) -> str:
        """A small static file inlined (the favicon): one request fewer per page."""
        path = static / filename
        kind = "image/svg+xml" if filename.endswith(".svg") else "application/octet-stream"
        return f"data:{kind},{quote(path.read_text(encoding='utf-8'))}"

    app.jinja_env.globals["static_inline"] = _data_uri
    if manifest:
        app.wsgi_app = WhiteNoise(  # type: ignore[method-assign]
            app.wsgi_app,
            root=str(out),
            prefix=(app.static_url_path or "/static").strip("/") + "/",
            max_age=60,
            immutable_file_test=lambda _path, url: bool(FINGERPRINTED.search(url)),
            add_headers_function=static_headers,
        )
    app.config.setdefault("COMPRESS_ALGORITHM", ["br", "gzip"])
    app.config.setdefault("COMPRESS_MIMETYPES", COMPRESS_MIMETYPES)
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault(
        "COMPRESS_BR_WINDOW", 18
    )  # pages are small: a 256 KiB window, not 4 MiB per response
    Compress(app)
