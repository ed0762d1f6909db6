"""``PUT /api/0/users/<me|id>/avatar/``: a user's avatar type and picture (base64)."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import request

from onboarding.api import bp, error
from onboarding.api.auth import api_login_required, api_user
from onboarding.avatars import service as avatars
from onboarding.avatars.images import AvatarError
from onboarding.extensions import db


@bp.route("/users/<user_ref>/avatar/", methods=["GET", "PUT"])
@api_login_required
def user_avatar(user_ref: str) -> Any:
    user = api_user()
    if user_ref not in ("me", str(user.id)):
        return error(403, "You do not have permission to perform this action.")
    if request.method == "GET":
        return avatars.serialize("user", user.id)
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        return error(400, "The request body must be a JSON object.")
    type_name = data.get("avatar_type")
    photo = data.get("avatar_photo")
    if type_name not in avatars.type_names("user"):
        return error(400, {"avatar_type": [f'"{type_name}" is not a valid choice.']})
    upload = None
    try:
        if photo:
            try:
                raw = base64.b64decode(str(photo), validate=True)
            except (binascii.Error, ValueError):
                return error(400, {"avatar_photo": ["Invalid image format."]})
            if type_name != "upload":
                return error(400, {"avatar_type": ["A picture can only be sent with avatar_type upload."]})
            upload = avatars.queue_upload("user", user.id, raw, actor_id=user.id)
        else:
            avatars.set_type("user", user.id, type_name)
    except AvatarError as exc:
        db.session.rollback()
        if exc.status == 413:
            return error(413, exc.message)
        field = "avatar_photo" if photo else "avatar_type"
        return error(400, {field: [exc.message]})
    db.session.commit()
    body = avatars.serialize("user", user.id)
    if upload is not None:
        db.session.refresh(upload)
        body["avatarUpload"] = {"id": str(upload.id), "status": upload.status}
        return body, 202
    return body
