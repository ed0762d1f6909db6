"""Leaving for good: deleting one's own account, and deleting an organization.

``/account/settings/delete/`` and ``/organizations/<slug>/settings/delete/`` (the pages are their own
confirmation: the password, or the slug, typed again). The JSON API lives in :mod:`onboarding.api.deletion`.
"""

from flask import Blueprint

bp = Blueprint("deletion", __name__)

from onboarding.deletion import views  # noqa: E402,F401
