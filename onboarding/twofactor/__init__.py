"""Two-factor sign-in (TOTP with recovery codes) and organizations that require it."""

from flask import Blueprint

bp = Blueprint("twofactor", __name__)

from onboarding.twofactor import views  # noqa: E402,F401
