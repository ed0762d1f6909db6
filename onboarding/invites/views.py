"""``/accept/<member_id>/<token>/``: the invite landing page, branch by branch (spec §1.4–§1.5)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.accounts.service import get_user_by_email
from onboarding.extensions import db
from onboarding.invites import prove
from onboarding.invites import service as invites
from onboarding.invites import session as invite_session
from onboarding.invites.resume import Resumed, resume_invite
from onboarding.invites.service import INVALID_LINK, LinkState
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization, OrganizationMember
from onboarding.web.client import client_ip
from onboarding.web.htmx import see_other

bp = Blueprint("invites", __name__)
TOO_MANY_LINKS = "You have followed too many invalid invite links. Please try again later."

# States of the landing page that refuse the signed-in visitor, and their status.
STATES_REFUSED = {"email_mismatch": 403, "needs_2fa": 403, "needs_sso": 403}


def _no_referrer(resp: Response) -> Response:
    # The token is in this page's URL: never send it onwards in a Referer header.
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.before_request
def _throttle_link_guessing() -> Response | None:
    """Past the limit of invalid links from this client, every link page is a 429, before the database."""
    if not (request.view_args and "token" in request.view_args):
        return None
    wait = invites.link_guess_wait(client_ip())
    if not wait:
        return None
    body = render_template("errors/error.html", code=429, title="Too many attempts", message=TOO_MANY_LINKS)
    resp = _no_referrer(Response(body, status=429, mimetype="text/html"))
    resp.headers["Retry-After"] = str(wait)
    return resp


def invalid_page(expired_member: OrganizationMember | None = None, token: str | None = None) -> Response:
    """One page, one message for every bad link; a genuine expired link also gets a renewal button."""
    if expired_member is None:
        invites.count_link_guess(client_ip())
    body = render_template(
        "invites/invalid.html",
        message=INVALID_LINK,
        member=expired_member,
        token=token,
        renewal_requested=bool(expired_member and expired_member.flags & invites.RENEWAL_REQUESTED),
    )
    status = 410 if expired_member is not None else 404
    return _no_referrer(Response(body, status=status, mimetype="text/html"))


def _state(org: Organization, member: OrganizationMember) -> str:
    """What the signed-in visitor may do. The address comes first: to anyone but its owner the invite
    is "sent to another address", also when they already belong to the organization."""
    if not current_user.is_authenticated:
        return "anonymous"
    if not invites.email_matches(current_user, member.email):
        return "email_mismatch"
    if orgs.get_membership(org, current_user) is not None:
        return "already_member"
    if invites.needs_2fa(org, current_user):
        return "needs_2fa"
    if invites.needs_sso(org, current_user):
        return "needs_sso"
    return "ready"


def _page(
    member: OrganizationMember, token: str, state: str, status: int = 200, *, prove_error: str | None = None
) -> Response:
    org = member.organization
    provider = orgs.auth_provider_for(org)
    path = invites.accept_path(member.id, token)
    body = render_template(
        "invites/accept.html",
        org=org,
        member=member,
        state=state,
        path=path,
        provider=provider,
        account_exists=get_user_by_email(member.email or "") is not None,
        requires_2fa=invites.needs_2fa(org, None),
        inviter=member.inviter,
        prove_error=prove_error,
    )
    return _no_referrer(Response(body, status=status, mimetype="text/html"))


def _valid_invite(member_id: str, token: str) -> OrganizationMember | Response:
    """The invite a live link names, or the page for a bad link (expired genuine links can ask anew)."""
    state, member = invites.check_link(member_id, token)
    if state is LinkState.VALID and member is not None:
        return member
    return invalid_page(member, token) if state is LinkState.EXPIRED else invalid_page()


@bp.route("/accept/<member_id>/<token>/", methods=["GET", "POST"])
def accept(member_id: str, token: str) -> Response:
    member = _valid_invite(member_id, token)
    if isinstance(member, Response):
        return member
    # Kept for the detour: whoever signs in or registers next has it resumed (``resume_invite``).
    invite_session.remember(member, token, allow_register=not current_user.is_authenticated)
    if not current_user.is_authenticated:
        if request.method == "POST":
            return see_other(url_for("auth.login"))
        return _page(member, token, "anonymous")
    if request.method == "GET":
        state = _state(member.organization, member)
        return _page(member, token, state, 403 if state == "email_mismatch" else 200)
    return _accept_now(member, token)


def _accept_now(member: OrganizationMember, token: str) -> Response:
    """Accept through :func:`resume_invite`, the one way an invite is finished (its invite kept in the
    session by :func:`accept`), so this page and every detour end the same way."""
    invite_session.remember(member, token, allow_register=False)
    resumed = resume_invite(current_user, ip=client_ip())
    if resumed is not None and resumed.member_now and resumed.next_url:
        db.session.commit()
        return see_other(resumed.next_url)
    db.session.rollback()
    if resumed is None or resumed.outcome is Resumed.GONE:
        return invalid_page()
    state = resumed.status.value if resumed.status else "email_mismatch"
    return _page(member, token, state, STATES_REFUSED.get(state, 403))


@bp.route("/accept/<member_id>/<token>/decline/", methods=["POST"])
def decline(member_id: str, token: str) -> Response:
    """Say no from the link: signed out (the link is the proof) or signed in as the invited address.
    Anyone else gets the "sent to another address" page and nothing changes."""
    member = _valid_invite(member_id, token)
    if isinstance(member, Response):
        return member
    user = current_user if current_user.is_authenticated else None
    if user is not None and not invites.email_matches(user, member.email):
        return _page(member, token, "email_mismatch", 403)
    org = member.organization
    invites.decline(member, user, ip=client_ip())
    invite_session.forget()
    db.session.commit()
    flash(f"You declined the invitation to join {org.name}.", "success")
    return see_other(url_for("invites.inbox") if user is not None else url_for("auth.login"))


@bp.route("/accept/<member_id>/<token>/prove-email/", methods=["POST"])
def prove_email(member_id: str, token: str) -> Response:
    """Signed in as someone else: email a code to the invite's address (``op=send``), or enter it
    (``op=verify``) to add that address to this account and accept the invite (:mod:`.prove`)."""
    member = _valid_invite(member_id, token)
    if isinstance(member, Response):
        return member
    path = invites.accept_path(member.id, token)
    if not current_user.is_authenticated or invites.email_matches(current_user, member.email):
        return see_other(path)  # nothing to prove: the invite page says what comes next
    op = request.form.get("op")
    try:
        if op == "send":
            prove.send_code(current_user, member)
            db.session.commit()
            return _page(member, token, "code_sent")
        if op == "verify":
            if not prove.verify_code(current_user, member, request.form.get("code", ""), ip=client_ip()):
                db.session.rollback()  # nothing changed (the failed attempt is counted in Redis)
                return _page(member, token, "code_sent", 422, prove_error=prove.WRONG_CODE)
            db.session.commit()  # the address is the user's now, whatever accepting still needs
            flash(f"{member.email} is now a verified address of your account.", "success")
            return _accept_now(member, token)
    except prove.ProveError as exc:
        db.session.rollback()
        page_state = "code_sent" if op == "verify" else "email_mismatch"
        resp = _page(member, token, page_state, exc.status, prove_error=str(exc))
        if exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    abort(400, "Unknown form.")


@bp.route("/accept/", defaults={"rest": ""}, methods=["GET", "POST"])
@bp.route("/accept/<path:rest>", methods=["GET", "POST"])
def mangled(rest: str) -> Response:
    """Any other address under /accept/ — a token broken by a mail client (an encoded slash, extra
    segments) or a missing part — gets the same page as every bad link. (A link that lost only its final
    slash is redirected to the right address by the routing itself.)"""
    del rest
    return invalid_page()


@bp.route("/accept/<member_id>/<token>/renew/", methods=["POST"])
def renew(member_id: str, token: str) -> Response:
    """Ask the organization for a fresh invite, from a genuine link whose invite expired."""
    state, member = invites.check_link(member_id, token)
    if state is not LinkState.EXPIRED or member is None:
        if state is LinkState.VALID:
            return see_other(invites.accept_path(int(member_id), token))
        return invalid_page()
    invites.request_renewal(member, ip=client_ip())
    db.session.commit()
    return invalid_page(member, token)


from onboarding.invites import inbox_views  # noqa: E402,F401  (its routes are on this blueprint)
