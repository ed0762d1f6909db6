"""Single sign-on over OpenID Connect: an organization's provider, the redirect dance, identities."""

from flask import Blueprint

bp = Blueprint("sso", __name__)

from onboarding.sso import views  # noqa: E402,F401
