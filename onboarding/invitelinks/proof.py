"""Domain-locked links: proving an address by a link emailed to it (signed: link, account, address;
valid one day), then joining."""

from __future__ import annotations

from flask import current_app
from itsdangerous import BadSignature, URLSafeTimedSerializer
from sqlalchemy import select

from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import normalize_email
from onboarding.extensions import db
from onboarding.invitelinks.common import Joined, JoinResult
from onboarding.invitelinks.models import InviteLink
from onboarding.invites import service as invites
from onboarding.orgs import service as orgs
from onboarding.outbox import mail

CONFIRM_MAX_AGE = 24 * 3600  # the emailed confirmation link of a domain-locked link


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.config["SECRET_KEY"], salt="invite-link-confirm")


def send_confirmation(link: InviteLink, user: User, email: str) -> None:
    """Email ``email`` a link that proves it and then joins (signed: link, account, address; 1 day)."""
    signed = _serializer().dumps({"l": link.id, "u": user.id, "e": email})
    url = f"{invites.base_url()}/join/confirm/{signed}/"
    mail.queue_email(email, "invite_link_confirm", org=link.organization, user=user, url=url)


def confirm(signed: str, *, ip: str | None) -> JoinResult:
    """The emailed confirmation link was opened: the address is proven (a verified address of the
    account from now on), then the account joins through the link as :func:`join` would."""
    try:
        data = _serializer().loads(signed, max_age=CONFIRM_MAX_AGE)
        link_id, user_id, email = int(data["l"]), int(data["u"]), str(data["e"])
    except (BadSignature, KeyError, TypeError, ValueError):
        return JoinResult(Joined.INVALID)
    link = db.session.get(InviteLink, link_id)
    user = db.session.get(User, user_id)
    if link is None or user is None or not user.is_active or not link.domain_allowed(email):
        return JoinResult(Joined.INVALID)
    if normalize_email(user.email) != email and email not in _addresses(user):
        return JoinResult(Joined.INVALID)
    row = db.session.scalar(select(UserEmail).where(UserEmail.user_id == user.id, UserEmail.email == email))
    if row is None:
        db.session.add(UserEmail(user_id=user.id, email=email, is_verified=True))
    else:
        row.is_verified = True
    if not link.is_live or not link.organization.is_active:
        return JoinResult(Joined.INVALID)
    if orgs.get_membership(link.organization, user) is not None:
        return JoinResult(Joined.ALREADY_MEMBER, link.organization)
    from onboarding.invitelinks.joining import admit  # joining asks for proofs: imported at call time

    return admit(link, user, email, ip=ip)


def _addresses(user: User) -> list[str]:
    return [
        normalize_email(e)
        for e in db.session.scalars(select(UserEmail.email).where(UserEmail.user_id == user.id))
    ]
