"""An organization that requires two-factor: turning it on and off (spec §1.11 ``require2FA``)."""

from __future__ import annotations

from sqlalchemy import select

from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.invites import common as invites  # links and tokens only: no import cycle
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember, OrgFlags
from onboarding.outbox import mail
from onboarding.twofactor.service import user_has_2fa

NEEDS_PERSONAL_2FA = "Cannot require two-factor authentication without personal two-factor enabled."
HAS_SSO = "Cannot require two-factor authentication with SSO enabled"


class PolicyError(Exception):
    """The change is refused; the message is the spec's, meant for the person."""


def set_require_2fa(org: Organization, on: bool, actor: User, ip: str | None) -> list[OrganizationMember]:
    """Turn the organization's two-factor requirement on or off; returns the members made pending.

    Turning it on needs the actor to have two-factor and the organization to have no SSO provider
    (:class:`PolicyError` otherwise). Then every member without two-factor becomes a pending invite
    to their address again (teams and role kept) with a fresh token, is emailed a link after
    commit, and ``member.pending`` is recorded. ``org.edit`` is recorded when the flag changes.
    """
    if on:
        if not user_has_2fa(actor.id):
            raise PolicyError(NEEDS_PERSONAL_2FA)
        if orgs.auth_provider_for(org) is not None:
            raise PolicyError(HAS_SSO)
    was_on = org.has_flag(OrgFlags.REQUIRE_2FA)
    if was_on == on:
        return []
    org.set_flag(OrgFlags.REQUIRE_2FA, on)
    audit.record(
        "org.edit",
        organization_id=org.id,
        actor=actor,
        target_object=org.id,
        ip_address=ip,
        data={"require_2fa": f"to {on}"},
    )
    return make_non_compliant_pending(org, actor, ip) if on else []


def make_non_compliant_pending(org: Organization, actor: User, ip: str | None) -> list[OrganizationMember]:
    rows = db.session.execute(
        select(OrganizationMember, User)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == org.id)
        .order_by(OrganizationMember.id)
    ).all()
    made_pending = []
    for member, user in rows:
        if user_has_2fa(user.id):
            continue
        # An older invite to the same address would collide with (organization, email).
        stale = db.session.scalar(
            select(OrganizationMember).where(
                OrganizationMember.organization_id == org.id,
                OrganizationMember.email == user.email,
                OrganizationMember.id != member.id,
            )
        )
        if stale is not None:
            db.session.delete(stale)
            db.session.flush()
        member.user_id = None
        member.email = user.email
        raw = invites.issue_token(member)
        member.inviter_id = actor.id
        db.session.flush()
        audit.record(
            "member.pending",
            organization_id=org.id,
            actor=actor,
            target_object=org.id,
            target_user_id=user.id,
            ip_address=ip,
            data={"email": user.email, "role": member.role, "reason": "require_2fa"},
        )
        message = mail.queue_email(
            user.email,
            "member_pending_2fa",
            ref={"invite_member_id": member.id},
            org=org,
            user=user,
            url=invites.invite_link(member.id, raw),
        )
        member.invite_email_id = message.id
        made_pending.append(member)
    return made_pending
