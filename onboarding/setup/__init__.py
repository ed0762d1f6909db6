from flask import Blueprint

bp = Blueprint("setup", __name__, url_prefix="/setup")

from onboarding.setup import views  # noqa: E402,F401
