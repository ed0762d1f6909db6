from flask import Blueprint

bp = Blueprint("orgs", __name__, url_prefix="/organizations")

import onboarding.orgs.settings_views  # noqa: E402,F401
from onboarding.orgs import switcher, views  # noqa: E402,F401
