"""Avatar pictures (cacheable, cookie-free), and the upload pages for organizations and users."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, g, request, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response as BaseResponse

from onboarding.avatars import bp
from onboarding.avatars import service as avatars
from onboarding.avatars.images import AvatarError
from onboarding.avatars.models import AvatarUpload, UploadStatus
from onboarding.avatars.panel import panel
from onboarding.extensions import db
from onboarding.orgs.access import org_required
from onboarding.web.htmx import is_htmx, render, see_other

ONE_YEAR_TEN = 315360000  # Sentry's max-age: the URL changes with every new picture


# --- pictures -------------------------------------------------------------------------------------


def _photo(kind: str, ident: str) -> Response:
    g.stateless_response = True  # no session cookie, no session bookkeeping: these are public images
    raw_size = request.args.get("s")
    size: int | None = None
    if raw_size is not None:
        try:
            size = int(raw_size)
        except ValueError:
            return Response("Size must be a whole number.\n", 400, mimetype="text/plain")
    data = avatars.photo(kind, ident, size) if len(ident) <= 32 else None
    if data is None:
        return Response("No such avatar.\n", 404, mimetype="text/plain")
    resp = Response(data, mimetype="image/png")
    resp.headers["Cache-Control"] = f"public, max-age={ONE_YEAR_TEN}, immutable"
    resp.headers["Access-Control-Allow-Origin"] = "*"
    resp.headers["Content-Disposition"] = "inline"
    return resp


@bp.get("/organization-avatar/<ident>/")
def organization_photo(ident: str) -> Response:
    return _photo("organization", ident)


@bp.get("/avatar/<ident>/")
def user_photo(ident: str) -> Response:
    return _photo("user", ident)


# --- upload pages --------------------------------------------------------------------------------


def _handle_post(kind: str, owner_id: int, status_endpoint: str, **url_args: Any) -> tuple[Any, str | None]:
    """Queue an upload or switch the type. Returns (upload or None, error message or None)."""
    photo = request.files.get("avatar_photo")
    data = photo.read() if photo is not None and photo.filename else b""
    type_name = (request.form.get("avatar_type") or "").strip()
    try:
        if data:
            upload = avatars.queue_upload(kind, owner_id, data, actor_id=current_user.id)
            db.session.commit()
            return upload, None
        if not type_name:
            return None, "Choose a picture to upload."
        avatars.set_type(kind, owner_id, type_name)
        db.session.commit()
        return None, None
    except AvatarError as exc:
        db.session.rollback()
        if exc.status == 413:
            abort(413, exc.message)
        return None, exc.message


def _upload_response(
    template: str,
    upload: AvatarUpload | None,
    error: str | None,
    back: str,
    status_url_for: Any,
    ctx: dict[str, Any],
) -> BaseResponse:
    if error:
        return render(template, block="avatar_panel", status=422, error=error, **ctx)
    if upload is None:
        return see_other(back)
    status_url = status_url_for(upload.id)
    if is_htmx():
        ctx["panel"]["upload"] = upload
        ctx["panel"]["status_url"] = status_url
        return render(template, block="avatar_panel", status=202, **ctx)
    return see_other(status_url)


@bp.route("/organizations/<org_slug>/settings/avatar/", methods=["GET", "POST"])
@org_required("org:write")
def org_avatar(org_slug: str) -> BaseResponse:
    org = g.org
    back = url_for("orgs.settings", org_slug=org.slug)
    action = url_for("avatars.org_avatar", org_slug=org.slug)
    upload, error = (None, None)
    if request.method == "POST":
        upload, error = _handle_post("organization", org.id, "avatars.org_upload_status", org_slug=org.slug)
    ctx = {
        "org": org,
        "panel": panel("organization", org.id, org.name, org.slug, action=action),
        "title": org.name,
    }
    if request.method == "POST":
        return _upload_response(
            "avatars/page.html",
            upload,
            error,
            back,
            lambda uid: url_for("avatars.org_upload_status", org_slug=org.slug, upload_id=uid),
            ctx,
        )
    return render("avatars/page.html", **ctx)


@bp.get("/organizations/<org_slug>/settings/avatar/<int:upload_id>/")
@org_required("org:write")
def org_upload_status(org_slug: str, upload_id: int) -> BaseResponse:
    org = g.org
    upload = avatars.get_upload(upload_id, "organization", org.id)
    if upload is None:
        abort(404)
    status_url = url_for("avatars.org_upload_status", org_slug=org.slug, upload_id=upload.id)
    back = url_for("orgs.settings", org_slug=org.slug)
    action = url_for("avatars.org_avatar", org_slug=org.slug)
    p = panel("organization", org.id, org.name, org.slug, action=action, upload=upload, status_url=status_url)
    return render("avatars/status.html", block="avatar_panel", org=org, panel=p, back=back, title=org.name)


@bp.route("/account/settings/avatar/", methods=["GET", "POST"])
@login_required
def user_avatar() -> BaseResponse:
    user = current_user
    back = url_for("avatars.user_avatar")
    upload, error = (None, None)
    if request.method == "POST":
        upload, error = _handle_post("user", user.id, "avatars.user_upload_status")
    p = panel("user", user.id, user.display_name, user.email, email=user.email, action=back)
    ctx: dict[str, Any] = {"panel": p, "title": "Your avatar"}
    if request.method == "POST":
        return _upload_response(
            "avatars/page.html",
            upload,
            error,
            back,
            lambda uid: url_for("avatars.user_upload_status", upload_id=uid),
            ctx,
        )
    return render("avatars/page.html", **ctx)


@bp.get("/account/settings/avatar/<int:upload_id>/")
@login_required
def user_upload_status(upload_id: int) -> BaseResponse:
    user = current_user
    upload = avatars.get_upload(upload_id, "user", user.id)
    if upload is None:
        abort(404)
    status_url = url_for("avatars.user_upload_status", upload_id=upload.id)
    back = url_for("avatars.user_avatar")
    p = panel(
        "user",
        user.id,
        user.display_name,
        user.email,
        email=user.email,
        action=back,
        upload=upload,
        status_url=status_url,
    )
    return render("avatars/status.html", block="avatar_panel", panel=p, back=back, title="Your avatar")


__all__ = ["UploadStatus"]
