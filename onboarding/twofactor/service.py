"""TOTP enrollment, verification and recovery codes, and the pending second step of sign-in.

Nothing here commits; the calling view commits once. Session keys: ``_pending_2fa`` =
``[user_id, ts, org_id]`` (spec §1.2.3; valid for five minutes), ``_totp_enroll`` (the secret being
enrolled, kept until a first code confirms it), ``_after_2fa`` (where to continue after enrolling).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from collections.abc import Callable
from typing import Any

import pyotp
import segno
from flask import current_app, session
from sqlalchemy import delete, select, update

from onboarding import ratelimit
from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.twofactor.models import Authenticator, RecoveryCode

PENDING_KEY = "_pending_2fa"
ENROLL_KEY = "_totp_enroll"
AFTER_KEY = "_after_2fa"
PENDING_SECONDS = 5 * 60
RECOVERY_CODE_COUNT = 10
STEP = 30  # seconds per TOTP code (RFC 6238 default, what authenticator apps use)

INVALID_CODE = "That code is not valid. Enter the current code from your app, or a recovery code."
THROTTLED = "You have entered too many codes. Please try again later."
ISSUER = "Onboarding"


class TwoFactorError(Exception):
    """A rule refused the change; the message is meant for the person."""


# --- reading --------------------------------------------------------------------------------------


def get_authenticator(user: User | int) -> Authenticator | None:
    user_id = user if isinstance(user, int) else user.id
    return db.session.scalar(
        select(Authenticator).where(Authenticator.user_id == user_id, Authenticator.type == "totp")
    )


# Other kinds of second factor (passkeys) add a check here: ``check(user_id) -> bool``.
OTHER_FACTORS: list[Callable[[int], bool]] = []


def add_second_factor_check(check: Callable[[int], bool]) -> None:
    if check not in OTHER_FACTORS:
        OTHER_FACTORS.append(check)


def user_has_totp(user_id: int) -> bool:
    return (
        db.session.scalar(select(Authenticator.id).where(Authenticator.user_id == user_id).limit(1))
        is not None
    )


def user_has_2fa(user_id: int) -> bool:
    """Whether the user has any second factor: the authenticator app, or another kind (a passkey)."""
    return user_has_totp(user_id) or any(check(user_id) for check in OTHER_FACTORS)


def has_other_factor(user_id: int) -> bool:
    return any(check(user_id) for check in OTHER_FACTORS)


def remaining_recovery_codes(auth: Authenticator) -> int:
    return sum(1 for code in auth.recovery_codes if code.used_at is None)


# --- enrollment -----------------------------------------------------------------------------------


def enrollment_secret() -> str:
    """The secret offered on the enrollment page; one per browser session until it is confirmed."""
    secret = session.get(ENROLL_KEY)
    if not secret:
        secret = pyotp.random_base32()  # 160 bits
        session[ENROLL_KEY] = secret
    return str(secret)


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """An inline SVG QR code (no script, no external image; allowed by the CSP)."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, border=2, dark="#000", light="#fff"))


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalize_recovery(code).encode()).hexdigest()


def _normalize_recovery(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _new_recovery_code() -> str:
    raw = secrets.token_hex(5).upper()  # 40 bits each; guesses are rate-limited
    return f"{raw[:5]}-{raw[5:]}"


def _matching_step(secret: str, code: str, at: float | None = None) -> int | None:
    """The time step a 6-digit code belongs to (current step ±1 for clock drift), or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    now = time.time() if at is None else at
    current = int(now // STEP)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * STEP), code):
            return step
    return None


def confirm_enrollment(user: User, secret: str, code: str) -> list[str]:
    """Store the authenticator once ``code`` proves the app holds ``secret``; return the recovery codes.

    The codes are returned once, in plain text, and stored only as hashes.
    Raises :class:`TwoFactorError` for a wrong code or when the user already has an authenticator.
    """
    if get_authenticator(user) is not None:
        raise TwoFactorError("Two-factor authentication is already enabled.")
    step = _matching_step(secret, code)
    if step is None:
        raise TwoFactorError("That code does not match. Check the time on your phone and try again.")
    auth = Authenticator(user_id=user.id, type="totp", secret=secret, last_used_step=step)
    db.session.add(auth)
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    auth.recovery_codes = [RecoveryCode(code_hash=_hash_code(c)) for c in codes]
    db.session.flush()
    return codes


def regenerate_recovery_codes(auth: Authenticator) -> list[str]:
    """Replace every recovery code (used or not) with ten new ones; returns them once."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.authenticator_id == auth.id))
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
    for c in codes:
        db.session.add(RecoveryCode(authenticator_id=auth.id, code_hash=_hash_code(c)))
    db.session.flush()
    db.session.expire(auth, ["recovery_codes"])
    return codes


def orgs_requiring_2fa(user: User) -> list[str]:
    """Names of the organizations ``user`` belongs to that require two-factor authentication."""
    from onboarding.orgs.models import Organization, OrganizationMember, OrgFlags

    rows = db.session.scalars(
        select(Organization.name)
        .join(OrganizationMember, OrganizationMember.organization_id == Organization.id)
        .where(
            OrganizationMember.user_id == user.id, Organization.flags.op("&")(int(OrgFlags.REQUIRE_2FA)) != 0
        )
        .order_by(Organization.name)
    )
    return list(rows)


def remove(user: User) -> bool:
    """Delete the user's authenticator and recovery codes; True if there was one.

    Raises :class:`TwoFactorError` while the user belongs to an organization that requires it and
    has no other second factor (as Sentry refuses to delete the last authenticator then).
    """
    required_by = [] if has_other_factor(user.id) else orgs_requiring_2fa(user)
    if required_by:
        raise TwoFactorError(
            "Two-factor authentication cannot be turned off: it is required by "
            + ", ".join(required_by)
            + "."
        )
    auth = get_authenticator(user)
    if auth is None:
        return False
    db.session.delete(auth)
    db.session.flush()
    return True


# --- verification ---------------------------------------------------------------------------------


def _limit() -> ratelimit.Limit:
    cfg = current_app.config
    return ratelimit.Limit("2fa:user", cfg["TWOFACTOR_FAILURES_PER_USER"], cfg["TWOFACTOR_FAILURE_WINDOW"])


def retry_after(user_id: int) -> int:
    return ratelimit.retry_after(_limit(), str(user_id))


def record_failure(user_id: int) -> None:
    ratelimit.hit(_limit(), str(user_id))


def verify_code(auth: Authenticator, code: str) -> bool:
    """Accept a TOTP code (once per time step, atomically) or an unused recovery code (consumed).

    Both updates are conditional, so two simultaneous submissions of one code accept at most one.
    """
    code = (code or "").strip()
    if len(code) > 64:
        return False
    step = _matching_step(auth.secret, code)
    now = utcnow()
    if step is not None:
        result: Any = db.session.execute(
            update(Authenticator)
            .where(
                Authenticator.id == auth.id,
                (Authenticator.last_used_step.is_(None)) | (Authenticator.last_used_step < step),
            )
            .values(last_used_step=step, last_used_at=now)
        )
        return bool(result.rowcount)
    normalized = _normalize_recovery(code)
    if len(normalized) != 10:
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(
            RecoveryCode.authenticator_id == auth.id,
            RecoveryCode.code_hash == _hash_code(normalized),
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    if result.rowcount:
        db.session.execute(update(Authenticator).where(Authenticator.id == auth.id).values(last_used_at=now))
        return True
    return False


# --- the pending second step of sign-in -----------------------------------------------------------


def begin_pending(user: User, org_id: int | None) -> None:
    """Password accepted, second factor still due: remember who, when and for which organization."""
    session[PENDING_KEY] = [user.id, int(time.time()), org_id]


def second_step_pending() -> bool:
    """Whether a password sign-in waits for its second factor in this session (not yet timed out)."""
    raw = session.get(PENDING_KEY)
    return (
        isinstance(raw, list)
        and len(raw) == 3
        and isinstance(raw[1], int)
        and (0 <= time.time() - raw[1] <= PENDING_SECONDS)
    )


def pending() -> tuple[User, int | None] | None:
    """The user waiting for their second factor and the organization they signed in to, or None.

    An entry older than five minutes, of an unknown or disabled user, or of a user who no longer has
    two-factor enabled is dropped.
    """
    raw = session.get(PENDING_KEY)
    if not isinstance(raw, list) or len(raw) != 3:
        session.pop(PENDING_KEY, None)
        return None
    user_id, ts, org_id = raw
    if not isinstance(ts, int) or time.time() - ts > PENDING_SECONDS or time.time() < ts - 5:
        session.pop(PENDING_KEY, None)
        return None
    user = db.session.get(User, user_id) if isinstance(user_id, int) else None
    if user is None or not user.is_active or not user_has_2fa(user.id):
        session.pop(PENDING_KEY, None)
        return None
    return user, org_id if isinstance(org_id, int) else None


def clear_pending() -> None:
    session.pop(PENDING_KEY, None)
