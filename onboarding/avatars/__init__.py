"""Avatars: letter avatars, uploaded pictures saved through the ``files`` queue, Gravatar for users."""

from flask import Blueprint

bp = Blueprint("avatars", __name__)

from onboarding.avatars import badges, views  # noqa: E402,F401
