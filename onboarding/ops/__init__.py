"""Operations for superusers: captured errors (``/manage/errors/``) and the status page (``/manage/status/``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Blueprint, abort
from flask_login import current_user, login_required

bp = Blueprint("ops", __name__, url_prefix="/manage")

F = TypeVar("F", bound=Callable[..., Any])


def superuser_required(view: F) -> F:
    """Signed-in superusers only: others are sent to sign in, or get 403."""

    @functools.wraps(view)
    @login_required
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not current_user.is_superuser:
            abort(403)
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


from onboarding.ops import views  # noqa: E402, F401
