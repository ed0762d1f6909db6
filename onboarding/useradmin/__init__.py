"""``/manage/users/``: user administration for superusers (search, memberships, disable, superuser)."""

from flask import Blueprint

bp = Blueprint("useradmin", __name__, url_prefix="/manage/users")

from onboarding.useradmin import views  # noqa: E402,F401
