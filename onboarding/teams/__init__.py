"""``/organizations/<slug>/teams/``: an organization's teams and who is in them."""

from flask import Blueprint

bp = Blueprint("teams", __name__, url_prefix="/organizations")

from onboarding.teams import views  # noqa: E402,F401
