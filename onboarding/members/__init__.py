from flask import Blueprint

bp = Blueprint("members", __name__, url_prefix="/organizations")

from onboarding.members import manage_views, views  # noqa: E402,F401
