"""Webhooks: owners' endpoints that receive signed member and invite events, delivered through the outbox."""

from flask import Blueprint

bp = Blueprint("webhooks", __name__, url_prefix="/organizations")

from onboarding.webhooks import views  # noqa: E402,F401
