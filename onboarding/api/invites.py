"""``/api/0/accept-invite/<member_id>/<token>/`` (spec §1.4). Errors keep Sentry's ``{"details": …}``."""

from __future__ import annotations

from typing import Any

from flask import jsonify
from flask_login import current_user

from onboarding.api import bp, throttled
from onboarding.api.auth import api_login_required, api_user
from onboarding.api.members import serialize_member
from onboarding.auth.flow import initiate_login
from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.invites import session as invite_session
from onboarding.invites.service import AcceptStatus, LinkState
from onboarding.orgs import service as orgs
from onboarding.web.client import client_ip


def _details(message: str, status: int = 400) -> tuple[Any, int]:
    resp = jsonify({"details": message})
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp, status


def _invalid() -> tuple[Any, int]:
    invites.count_link_guess(client_ip())
    return _details("Invalid invite code")


def _guessing() -> tuple[Any, int] | None:
    """Too many invalid links from this client: 429 before any database work."""
    wait = invites.link_guess_wait(client_ip())
    return (
        throttled(_details("Too many invalid invite links. Please try again later.", 429), wait)
        if wait
        else None
    )


@bp.route("/accept-invite/<member_id>/<token>/", methods=["GET"])
def accept_invite_details(member_id: str, token: str) -> Any:
    refused = _guessing()
    if refused:
        return refused
    state, member = invites.check_link(member_id, token)
    if state is not LinkState.VALID or member is None:
        return _invalid()
    org = member.organization
    user = current_user if current_user.is_authenticated else None
    existing = user is not None and orgs.get_membership(org, user) is not None
    provider = orgs.auth_provider_for(org)
    body: dict[str, Any] = {
        "orgSlug": org.slug,
        "needsAuthentication": user is None,
        "needsSso": provider is not None,
        "hasAuthProvider": provider is not None,
        "requireSso": bool(provider and provider.requires_sso),
        "existingMember": existing,
        "needs2fa": invites.needs_2fa(org, user),
        "needsEmailVerification": False,
        "invitedEmail": member.email,
        "emailMatches": bool(user is not None and invites.email_matches(user, member.email)),
    }
    if user is None:
        invite_session.remember(member, token, allow_register=True)
        initiate_login(invites.accept_path(member.id, token) if provider is None else "/")
    if provider is not None:
        invite_session.remember(member, token, allow_register=user is None)
        body["ssoProvider"] = provider.config.get("name") or provider.provider
    if body["needs2fa"]:
        invite_session.remember(member, token, allow_register=user is None)
    resp = jsonify(body)
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.route("/accept-invite/<member_id>/<token>/", methods=["POST"])
def accept_invite(member_id: str, token: str) -> Any:
    refused = _guessing()
    if refused:
        return refused
    if not current_user.is_authenticated:
        state, _ = invites.check_link(member_id, token)
        if state is not LinkState.VALID:
            return _invalid()
        return _details("unable to accept organization invite")
    result = invites.accept(member_id, token, current_user, ip=client_ip())
    if result.status is AcceptStatus.INVALID:
        db.session.rollback()
        return _invalid()
    if result.status is AcceptStatus.ALREADY_MEMBER:
        invite_session.forget()
        db.session.commit()
        return _details("member already exists")
    if result.status is AcceptStatus.EMAIL_MISMATCH:
        db.session.rollback()
        return _details("This invite was sent to another email address.")
    if not result.ok:
        db.session.rollback()
        return _details("unable to accept organization invite")
    invite_session.forget()
    db.session.commit()
    return "", 204


@bp.route("/users/me/invites/", methods=["GET"])
@api_login_required
def my_invites() -> Any:
    """The invite inbox as JSON: every live invite to one of the caller's addresses, any organization."""
    return jsonify(
        [
            {
                **serialize_member(m),
                "organization": {"slug": m.organization.slug, "name": m.organization.name},
            }
            for m in invites.inbox(api_user())
        ]
    )
