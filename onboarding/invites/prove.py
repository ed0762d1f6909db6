"""Settle an email mismatch without leaving the invite (spec/peers.md, features none of them has, 3).

Someone signed in as Y follows an invite sent to X. Besides switching account, they may prove that X is
theirs too: a six-digit code goes to X, and entering it adds X to Y's account as a verified address. The
invite, which belongs to X, is then accepted for Y (``invites.email_matches`` counts verified addresses).

Codes are kept as ``AccountToken`` rows (purpose ``invite-email-code``): an HMAC of the code under the
secret key, so a copy of the database does not give them away, bound to the invite and to a random nonce.
One code is live per user and invite; it lasts 15 minutes and is spent with one conditional UPDATE.
Sending is limited per user, and so are wrong codes.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from onboarding import ratelimit
from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import get_user_by_email, normalize_email
from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.orgs.models import OrganizationMember
from onboarding.outbox import mail
from onboarding.selfservice.models import AccountToken

PURPOSE = "invite-email-code"
LIFETIME = timedelta(minutes=15)
SENDS = ratelimit.Limit("invite-code-send:user", 5, 3600)
FAILURES = ratelimit.Limit("invite-code-fail:user", 5, 900)
WRONG_CODE = "That code is not right, or it has expired. Check the latest email, or send another code."


class ProveError(Exception):
    def __init__(self, message: str, *, status: int = 422, retry_after: int = 0) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _digest(user_id: int, member_id: int, code: str, nonce: str) -> str:
    key = str(current_app.config["SECRET_KEY"]).encode()
    return hmac.new(
        key, f"{PURPOSE}:{user_id}:{member_id}:{code}:{nonce}".encode(), hashlib.sha256
    ).hexdigest()


def _other_owner(user: User, email: str) -> bool:
    """Whether ``email`` already belongs to another account (as its address or a verified one)."""
    owner = get_user_by_email(email)
    if owner is not None and owner.id != user.id:
        return True
    other = db.session.scalar(
        select(UserEmail.user_id).where(
            UserEmail.email == normalize_email(email),
            UserEmail.is_verified.is_(True),
            UserEmail.user_id != user.id,
        )
    )
    return other is not None


def _check_limit(limit: ratelimit.Limit, user: User, message: str) -> None:
    wait = ratelimit.retry_after(limit, str(user.id))
    if wait:
        raise ProveError(
            f"{message} Try again in {max(1, wait // 60)} minute(s).", status=429, retry_after=wait
        )


def _taken_message(email: str) -> str:
    return f"{email} is the address of another account. Sign in as {email} to accept the invite."


def _live(user: User, member: OrganizationMember) -> list[AccountToken]:
    rows = db.session.scalars(
        select(AccountToken).where(
            AccountToken.user_id == user.id,
            AccountToken.purpose == PURPOSE,
            AccountToken.used_at.is_(None),
            AccountToken.expires_at > utcnow(),
        )
    ).all()
    return [row for row in rows if (row.binding or "").split(":")[0] == str(member.id)]


def send_code(user: User, member: OrganizationMember) -> None:
    """Email a new code to the invite's address (earlier codes for it stop working). The caller commits."""
    assert member.email is not None
    if _other_owner(user, member.email):
        raise ProveError(_taken_message(member.email))
    _check_limit(SENDS, user, "Too many codes were sent.")
    ratelimit.hit(SENDS, str(user.id))
    for row in _live(user, member):
        row.used_at = utcnow()
    code = f"{secrets.randbelow(10**6):06d}"
    nonce = secrets.token_hex(16)
    now = utcnow()
    db.session.add(
        AccountToken(
            user_id=user.id,
            purpose=PURPOSE,
            token_hash=_digest(user.id, member.id, code, nonce),
            email=member.email,
            binding=f"{member.id}:{nonce}",
            created_at=now,
            expires_at=now + LIFETIME,
        )
    )
    mail.queue_email(member.email, "invite_email_code", code=code, user=user, org=member.organization)


def verify_code(user: User, member: OrganizationMember, given: str, *, ip: str | None) -> bool:
    """True when ``given`` is the live code: the invite's address is then a verified address of ``user``.
    Wrong codes count against a limit (:class:`ProveError` with 429 once it is spent). The caller commits."""
    assert member.email is not None
    _check_limit(FAILURES, user, "Too many wrong codes.")
    code = "".join(ch for ch in given if ch.isdigit())
    found = None
    for row in _live(user, member):
        nonce = (row.binding or "").partition(":")[2]
        if row.email == member.email and hmac.compare_digest(
            row.token_hash, _digest(user.id, member.id, code, nonce)
        ):
            found = row
    if found is None:
        ratelimit.hit(FAILURES, str(user.id))
        return False
    spent = db.session.execute(
        update(AccountToken)
        .where(AccountToken.id == found.id, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if (spent.rowcount or 0) != 1:  # type: ignore[attr-defined]
        return False  # used at the same moment by another request
    if _other_owner(user, member.email):  # registered by someone else since the code was sent
        raise ProveError(_taken_message(member.email))
    address = normalize_email(member.email)
    known = db.session.scalar(
        select(UserEmail).where(UserEmail.user_id == user.id, UserEmail.email == address)
    )
    if known is None:
        db.session.add(UserEmail(user_id=user.id, email=address, is_verified=True))
    else:
        known.is_verified = True
    audit.record(
        "user.add-email",
        organization_id=member.organization_id,
        actor=user,
        target_user_id=user.id,
        ip_address=ip,
        data={"email": address, "verified_by": "invite code"},
    )
    return True
