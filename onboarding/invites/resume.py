"""Resume the pending invite: the one place that finishes an invite after a detour.

Register, password sign-in, the second step of sign-in, two-factor enrollment, SSO, passkeys and the
invite inbox all call :func:`resume_invite` and act on its :class:`Resumed` outcome; none of them reads
the invite's session keys or calls :mod:`.accepting` itself.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

from flask import flash, session, url_for

from onboarding.accounts.models import User
from onboarding.invites import session as invite_session
from onboarding.invites.accepting import (
    AcceptResult,
    AcceptStatus,
    accept,
    accept_as_owner,
    accept_for_verified_email,
    live_invite,
)
from onboarding.invites.common import accept_path
from onboarding.invites.listing import inbox
from onboarding.orgs.models import Organization

log = logging.getLogger(__name__)

NOTICE_CATEGORY = "pending-invites"  # rendered by _flash.html as #pending-invites-notice


class Resumed(enum.Enum):
    JOINED = "joined"  # the user is now a member through the invite
    ALREADY_MEMBER = "already_member"  # they already were; the invite to their address is gone
    WAITING = "waiting"  # a step is missing (two-factor, SSO, the address); the invite is kept
    GONE = "gone"  # revoked, used, expired or resent meanwhile; forgotten, nothing changed


@dataclass
class Resumption:
    outcome: Resumed
    organization: Organization | None = None
    next_url: str | None = None  # where to go now; None: wherever the caller was going anyway
    status: AcceptStatus | None = None  # the underlying answer (e.g. NEEDS_2FA for WAITING)

    @property
    def member_now(self) -> bool:
        return self.outcome in (Resumed.JOINED, Resumed.ALREADY_MEMBER)


def resume_invite(
    user: User,
    *,
    ip: str | None,
    member_id: int | None = None,
    organization: Organization | None = None,
    verified_email: str | None = None,
) -> Resumption | None:
    """Finish the pending invite for ``user``, who has just signed in, registered or completed a step.

    Which invite:
    - ``member_id`` given (the inbox): that invite, when it is live and addressed to one of ``user``'s
      addresses (otherwise GONE; its existence is not revealed).
    - otherwise the invite kept in the session (its link's token). With ``organization`` (SSO), only
      an invite to that organization, and failing that the live invite to it addressed to
      ``verified_email`` (the address the identity provider has just verified).
    Returns None when there is nothing to resume.

    One behaviour, one set of outcomes (:class:`Resumed`), whoever calls:
    - JOINED: the session forgets the invite, the organization becomes the active one, the message
      "You have been added to the <name> organization." is flashed; ``next_url`` is its home page.
    - ALREADY_MEMBER: the same, with "You are already a member of the <name> organization.".
    - WAITING: the invite stays in the session; ``next_url`` is its landing page, which says what is
      missing (for the inbox: the page where the missing step is done, with a message).
    - GONE: the session forgets it; nothing is flashed; ``next_url`` is None (the caller goes on).

    Nothing is committed: the caller commits once, as for any request.
    """
    from_session = member_id is None
    result: AcceptResult | None = None
    kept_id: int | None = None
    if member_id is not None:
        member = live_invite(member_id)
        result = accept_as_owner(member, user, ip=ip) if member is not None else None
        if result is None or result.status is AcceptStatus.EMAIL_MISMATCH:
            result = AcceptResult(AcceptStatus.INVALID)
    else:
        kept = invite_session.pending()
        if kept is not None and (organization is None or invite_session.held_for(organization.id)):
            kept_id = kept[0]
            result = accept(*kept, user, ip=ip)
        if (
            organization is not None
            and verified_email
            and (result is None or result.status in (AcceptStatus.INVALID, AcceptStatus.EMAIL_MISMATCH))
        ):
            by_email = accept_for_verified_email(organization, user, verified_email, ip=ip)
            if by_email.status is not AcceptStatus.INVALID:
                result = by_email
    if result is None:
        return None
    return _outcome(result, user, from_session=from_session, member_id=member_id or kept_id)


def _outcome(result: AcceptResult, user: User, *, from_session: bool, member_id: int | None) -> Resumption:
    org = result.organization
    if result.status in (AcceptStatus.ACCEPTED, AcceptStatus.ALREADY_MEMBER):
        assert org is not None
        if from_session:
            invite_session.forget()
        session["activeorg"] = org.slug
        if result.ok:
            flash(f"You have been added to the {org.name} organization.", "success")
            outcome = Resumed.JOINED
        else:
            flash(f"You are already a member of the {org.name} organization.", "info")
            outcome = Resumed.ALREADY_MEMBER
        return Resumption(outcome, org, url_for("orgs.home", org_slug=org.slug), result.status)
    if result.status is AcceptStatus.INVALID:
        if from_session:
            log.warning("Invalid pending invite in the session (member %s); not accepted", member_id)
            invite_session.forget()
        return Resumption(Resumed.GONE, status=result.status)
    # A step is missing: two-factor, SSO, or (session only) the invited address.
    kept = invite_session.pending() if from_session else None
    if kept is not None:
        return Resumption(Resumed.WAITING, org, accept_path(*kept), result.status)
    assert org is not None
    if result.status is AcceptStatus.NEEDS_2FA:
        flash(f"{org.name} requires two-factor authentication. Set it up, then accept the invite.", "warning")
        target = url_for("twofactor.security")
    else:
        flash(f"{org.name} requires single sign-on. Link your account, then accept the invite.", "warning")
        target = url_for("sso.start_page", org_slug=org.slug)
    return Resumption(Resumed.WAITING, org, target, result.status)


def announce_inbox(user: User) -> None:
    """After sign-in: a notice linking to the invite inbox when live invites await ``user``."""
    count = len(inbox(user))
    if count:
        noun = "an invitation" if count == 1 else f"{count} invitations"
        flash(f"You have {noun} waiting.", NOTICE_CATEGORY)
