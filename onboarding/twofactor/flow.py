"""Where two-factor meets the rest of the app: sign-in, enrollment follow-up, and organization pages.

The entry points other features call or extend:

- :func:`start_second_step` — called by the password sign-in when the user has two-factor enabled.
- :func:`after_2fa_enrolled` — runs right after a user confirms enrollment; returns where to go next,
  after resuming the invite kept in the session (spec §1.6).
- :func:`org_gate` — called by ``orgs.access.org_required``; sends members of an organization that
  requires two-factor (or SSO) where they must go first.
"""

from __future__ import annotations

from flask import flash, request, session, url_for
from werkzeug.wrappers import Response

from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs.models import Organization, OrganizationMember, OrgFlags
from onboarding.twofactor import service as tf
from onboarding.twofactor.service import user_has_2fa
from onboarding.web.htmx import see_other
from onboarding.web.redirects import safe_path

ENROLL_REQUIRED = "The {name} organization requires two-factor authentication. Set it up to continue."


def start_second_step(user: User, org: Organization | None) -> Response:
    """Password accepted for a user with two-factor: do not sign in yet; ask for a code."""
    tf.begin_pending(user, org.id if org is not None else None)
    db.session.commit()  # a rehashed password, if any
    return see_other(url_for("twofactor.challenge"))


def finish_second_step(user: User, org_id: int | None, method: str) -> str:
    """The second factor was accepted (``method``: ``totp`` or ``passkey``): sign in, record it, and
    return where to go. The caller commits."""
    from onboarding.audit import service as audit
    from onboarding.auth.flow import after_sign_in, sign_in
    from onboarding.orgs import service as orgs
    from onboarding.web.client import client_ip

    tf.clear_pending()
    sso_org_id = session.pop("_pending_sso", None)
    sign_in(user)
    if org_id is not None and sso_org_id == org_id:
        from onboarding.sso.flow import mark_sso_complete

        mark_sso_complete(org_id)
    if org_id is not None:
        org = db.session.get(Organization, org_id)
        if org is not None and orgs.get_membership(org, user) is not None:
            session["activeorg"] = org.slug
    data: dict[str, object] = {"two_factor": True}
    if method != "totp":
        data["method"] = method
    audit.record("user.login.success", organization_id=org_id, actor=user, ip_address=client_ip(), data=data)
    return after_sign_in(user)


def after_2fa_enrolled(user: User) -> str | None:
    """Follow-up of a confirmed enrollment; returns the page to continue to, if any.

    The invite kept in the session waited for this step (spec §1.6): it is resumed now
    (:func:`onboarding.invites.resume.resume_invite`); joined, the user continues to its organization.
    Otherwise, the page that sent the user to enroll (an organization that requires two-factor).
    """
    from onboarding.invites.resume import resume_invite
    from onboarding.web.client import client_ip

    resumed = resume_invite(user, ip=client_ip())
    if resumed is not None and resumed.member_now:
        session.pop(tf.AFTER_KEY, None)
        return resumed.next_url
    return safe_path(session.pop(tf.AFTER_KEY, None))


def org_gate(org: Organization, member: OrganizationMember | None, user: User) -> Response | None:
    """A redirect for a member who must enrol in two-factor or link SSO before this page, else None."""
    if member is None:  # superusers who are not members are not subject to the org's policy
        return None
    if org.has_flag(OrgFlags.REQUIRE_2FA) and not user_has_2fa(user.id):
        session[tf.AFTER_KEY] = safe_path(request.full_path.rstrip("?")) or url_for(
            "orgs.home", org_slug=org.slug
        )
        flash(ENROLL_REQUIRED.format(name=org.name), "warning")
        return see_other(url_for("twofactor.security"))
    from onboarding.sso.flow import sso_gate

    return sso_gate(org, member, user)
