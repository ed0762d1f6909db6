"""Flask-Login wired to server-side session records; htmx-aware handling of expired sessions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Flask, current_app, flash, g, redirect, request, session, url_for
from flask_login import LoginManager
from werkzeug.wrappers import Response
from werkzeug.wrappers import Response as BaseResponse

from onboarding.extensions import utcnow
from onboarding.web import htmx
from onboarding.web.htmx import current_url, is_htmx
from onboarding.web.redirects import safe_path


def _unauthorized() -> BaseResponse:
    if session.get("_user_id"):
        # The cookie named a session that has ended or expired.
        session.pop("_user_id", None)
        flash("Your session has expired.", "warning")
    if is_htmx():
        # Send the whole page to sign-in instead of swapping the sign-in page into a fragment.
        back = safe_path(current_url() or "") or "/"
        return htmx.response("", 401, redirect=url_for("auth.login", next=back))
    if request.path.startswith("/api/"):
        from onboarding.web.errors import error_page

        return error_page(401, "Authentication credentials were not provided.")
    return redirect(url_for("auth.login", next=safe_path(request.full_path.rstrip("?")) or None))


def _touch(resp: Response) -> Response:
    user = g.get("_login_user")  # only when this request loaded the user; static files never do
    record = getattr(user, "session_record", None)
    if record is not None:
        interval = timedelta(seconds=current_app.config["SESSION_TOUCH_SECONDS"])
        if record.last_seen_at < utcnow() - interval:
            try:
                current_app.extensions["session_touch"](user.session_key)
            except Exception:  # noqa: BLE001 - last-seen is best effort; never fail the request for it
                current_app.logger.warning("could not record session activity", exc_info=True)
    return resp


def init_app(
    app: Flask, manager: LoginManager, *, load_user: Callable[[str], Any], touch: Callable[[str], Any]
) -> None:
    """Flask-Login on server-side session records: ``load_user(session_key)`` finds the signed-in user
    (``None`` when the record has ended), ``touch(session_key)`` records activity (the accounts feature)."""
    app.extensions["session_touch"] = touch
    manager.session_protection = None  # server-side records do this job; IPs change on mobile networks
    manager.user_loader(load_user)
    manager.unauthorized_handler(_unauthorized)
    app.after_request(_touch)
