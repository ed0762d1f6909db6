"""Shareable invite links: ``/organizations/<slug>/invite-links/`` for managers, ``/join/<token>/`` for
everyone the link is shared with."""

from flask import Blueprint

bp = Blueprint("invite_links", __name__)

from onboarding.invitelinks import views  # noqa: E402,F401
