"""HTTP for user administration: superusers only; every change is a POST, answered 303 or by the new row."""

from __future__ import annotations

from flask import abort, flash, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.ops import superuser_required
from onboarding.orgs import service as orgs
from onboarding.useradmin import bp
from onboarding.useradmin import service as admin
from onboarding.web.client import client_ip
from onboarding.web.converters import page_number
from onboarding.web.htmx import is_htmx, render, see_other

TEMPLATE = "manage/users.html"


@bp.get("/")
@superuser_required
def users() -> Response:
    query = (request.args.get("q") or "")[:100]
    page = page_number(request.args.get("page"))
    found, more = admin.search(query, page)
    memberships = {u.id: orgs.memberships(u) for u in found}
    return render(
        TEMPLATE, block="results", users=found, memberships=memberships, q=query, page=page, more=more
    )


def _target(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _done(user: User, message: str, *, status: int = 200) -> Response:
    if is_htmx():
        flash(message, "error" if status >= 400 else "success")
        return render(
            TEMPLATE, block="row", status=status, u=user, memberships={user.id: orgs.memberships(user)}
        )
    flash(message, "error" if status >= 400 else "success")
    return see_other(url_for("useradmin.users", q=request.args.get("q") or None))


def _act(user_id: int, change: str) -> Response:
    user = _target(user_id)
    try:
        if change in ("disable", "enable"):
            changed = admin.set_active(user, change == "enable", actor=current_user, ip=client_ip())
            message = f"{user.email} is {'enabled' if user.is_active_flag else 'disabled'}."
        else:
            changed = admin.set_superuser(user, change == "grant", actor=current_user, ip=client_ip())
            message = f"{user.email} is {'now' if user.is_superuser else 'no longer'} a superuser."
    except admin.AdminError as exc:
        db.session.rollback()
        return _done(user, str(exc), status=409)
    db.session.commit()
    return _done(user, message if changed else f"Nothing to change for {user.email}.")


@bp.post("/<int:user_id>/disable/")
@superuser_required
def disable(user_id: int) -> Response:
    return _act(user_id, "disable")


@bp.post("/<int:user_id>/enable/")
@superuser_required
def enable(user_id: int) -> Response:
    return _act(user_id, "enable")


@bp.post("/<int:user_id>/superuser/grant/")
@superuser_required
def grant(user_id: int) -> Response:
    return _act(user_id, "grant")


@bp.post("/<int:user_id>/superuser/revoke/")
@superuser_required
def revoke(user_id: int) -> Response:
    return _act(user_id, "revoke")
