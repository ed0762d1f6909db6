"""Rules of user administration. Nothing here commits; the view commits once."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from onboarding.accounts.models import User
from onboarding.accounts.service import end_other_sessions
from onboarding.audit import service as audit
from onboarding.extensions import db

PER_PAGE = 50


class AdminError(Exception):
    """A refusal meant for the administrator."""


def search(query: str, page: int) -> tuple[list[User], bool]:
    """Users whose email or name contains ``query`` (all when empty), newest first; and whether more follow."""
    stmt = select(User).order_by(User.date_joined.desc(), User.id.desc())
    text = query.strip().lower()
    if text:
        # autoescape: % and _ in the query are literal characters, not wildcards
        stmt = stmt.where(
            or_(
                User.email.contains(text, autoescape=True),
                func.lower(User.name).contains(text, autoescape=True),
            )
        )
    rows = list(db.session.scalars(stmt.offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)))
    return rows[:PER_PAGE], len(rows) > PER_PAGE


def set_active(target: User, active: bool, *, actor: User, ip: str | None) -> bool:
    """Enable or disable ``target``; disabling ends every session it has. False when nothing changed."""
    if target.id == actor.id and not active:
        raise AdminError("You cannot disable your own account.")
    if target.is_active_flag == active:
        return False
    target.is_active_flag = active
    ended = 0 if active else end_other_sessions(target)
    audit.record(
        "user.enable" if active else "user.disable",
        actor=actor,
        target_user_id=target.id,
        target_object=target.id,
        ip_address=ip,
        data={"email": target.email, "sessions_ended": ended},
    )
    return True


def set_superuser(target: User, on: bool, *, actor: User, ip: str | None) -> bool:
    """Grant or remove superuser (staff follows it, as createuser does). False when nothing changed."""
    if target.id == actor.id and not on:
        raise AdminError("You cannot remove your own superuser rights; ask another superuser.")
    if target.is_superuser == on:
        return False
    target.is_superuser = on
    target.is_staff = on
    audit.record(
        "user.superuser.grant" if on else "user.superuser.revoke",
        actor=actor,
        target_user_id=target.id,
        target_object=target.id,
        ip_address=ip,
        data={"email": target.email},
    )
    return True
