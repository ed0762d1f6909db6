"""The upload size limit, enforced before anything reads the request body.

Registered as the *first* before-request function of the app, so it runs before CSRFProtect parses
the form: an oversized avatar upload is answered 413 from its Content-Length alone, and a body
without a length is cut off at the limit while it is read.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, request
from markupsafe import escape
from werkzeug.wrappers import Response

from onboarding.web import htmx
from onboarding.web.htmx import is_htmx

TOO_LARGE = "Image too large"

MULTIPART_OVERHEAD = 64 * 1024
# Endpoints that take an avatar: multipart pages, or JSON with the picture in base64.
MULTIPART_ENDPOINTS = {"avatars.org_avatar", "avatars.user_avatar"}
BASE64_ENDPOINTS = {"api.organization_details", "api.user_avatar"}


def upload_limit() -> int | None:
    size = int(current_app.config["AVATAR_MAX_SIZE"])
    if request.endpoint in MULTIPART_ENDPOINTS:
        return size + MULTIPART_OVERHEAD
    if request.endpoint in BASE64_ENDPOINTS:
        return (size + 2) // 3 * 4 + MULTIPART_OVERHEAD
    return None


def limit_upload_size() -> Response | None:
    if request.method not in ("POST", "PUT"):
        return None
    limit = upload_limit()
    if limit is None:
        return None
    if request.content_length is not None and request.content_length > limit:
        if is_htmx() and request.endpoint in MULTIPART_ENDPOINTS:
            # htmx does not swap a 413; answer like any failed form, into the panel's error slot.
            size = int(current_app.config["AVATAR_MAX_SIZE"])
            return htmx.response(
                f'<small id="avatar-error" class="field-error" role="alert">{escape(TOO_LARGE)}: '
                f"at most {size / 1e6:.0f} MB.</small>",
                422,
                retarget="#avatar-error",
                reswap="outerHTML",
            )
        abort(413, TOO_LARGE)
    request.max_content_length = limit
    return None


def init_app(app: Flask) -> None:
    app.before_request_funcs.setdefault(None, []).insert(0, limit_upload_size)
