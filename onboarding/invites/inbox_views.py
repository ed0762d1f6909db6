"""``/account/invites/``: the signed-in user's invite inbox — accept or decline any live invite sent to
one of their addresses, in any organization (contract, "An invite belongs to its address")."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.invites import service as invites
from onboarding.invites.resume import Resumed, resume_invite
from onboarding.invites.views import bp
from onboarding.orgs import roles
from onboarding.orgs.models import OrganizationMember
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

TEMPLATE = "invites/inbox.html"


@bp.route("/account/invites/", methods=["GET"])
@login_required
def inbox() -> Response:
    return render(TEMPLATE, invites=invites.inbox(current_user), roles=roles)


def _mine(member_id: int) -> OrganizationMember:
    """A live invite to one of the user's addresses, or 404 (others' invites are not revealed)."""
    member = invites.live_invite(member_id)
    if member is None or not invites.email_matches(current_user, member.email):
        abort(404)
    return member


@bp.route("/account/invites/<int:member_id>/accept/", methods=["POST"])
@login_required
def inbox_accept(member_id: int) -> Response:
    resumed = resume_invite(current_user, ip=client_ip(), member_id=member_id)
    if resumed is None or resumed.outcome is Resumed.GONE:
        db.session.rollback()
        flash("That invite is no longer valid. Ask the organization for a new one.", "warning")
        return see_other(url_for("invites.inbox"))
    if resumed.member_now:
        db.session.commit()
    else:
        db.session.rollback()
    return see_other(resumed.next_url or url_for("invites.inbox"))


@bp.route("/account/invites/<int:member_id>/decline/", methods=["POST"])
@login_required
def inbox_decline(member_id: int) -> Response:
    member = _mine(member_id)
    name = member.organization.name
    invites.decline(member, current_user, ip=client_ip())
    db.session.commit()
    flash(f"You declined the invitation to join {name}.", "success")
    return see_other(url_for("invites.inbox"))
