from flask import Blueprint

bp = Blueprint("invites", __name__)

from onboarding.invites import views  # noqa: E402,F401
