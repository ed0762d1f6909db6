"""The audit log. Organizations' logs are pages of their own (``members.views``); the instance's log
(entries about no organization, such as ``org.remove``, which outlive the organization) is for
superusers at ``/manage/audit-log/``."""

from flask import Blueprint

bp = Blueprint("audit", __name__, url_prefix="/manage/audit-log")

from onboarding.audit import views  # noqa: E402,F401
