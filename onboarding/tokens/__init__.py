"""Personal API tokens, managed at ``/account/settings/tokens/``."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("tokens", __name__, url_prefix="/account/settings/tokens")

from onboarding.tokens import views  # noqa: E402, F401
