"""Changing a member's role and teams, removing members, and leaving (``/organizations/<slug>/…``).

Plain forms answer 303 (or 422 with the errors in the member's row); htmx requests get the member's
row back (``member_row`` block), an empty body when the row is gone, or ``HX-Redirect`` after leaving.
"""

from __future__ import annotations

from flask import abort, flash, g, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.auth.flow import landing_url
from onboarding.extensions import db
from onboarding.members import bp
from onboarding.members import service as rules
from onboarding.members.forms import MemberEditForm
from onboarding.members.views import TEMPLATE, _context, _invite_form, _member_or_404
from onboarding.orgs.access import effective_role, org_required
from onboarding.orgs.models import OrganizationMember
from onboarding.web import htmx
from onboarding.web.client import client_ip
from onboarding.web.htmx import is_htmx, render, see_other


def _joined_member_or_404(member_id: int) -> OrganizationMember:
    member = _member_or_404(member_id)
    if member.is_pending:
        abort(404)
    return member


def _members_page() -> Response:
    return see_other(url_for("members.members", org_slug=g.org.slug) + "#members-heading")


def _row(member: OrganizationMember, *, status: int = 200, **extra: object) -> Response:
    """The member's row for htmx; the whole members page otherwise (used for 422 answers)."""
    return render(
        TEMPLATE, block="member_row", status=status, m=member, form=_invite_form(), **_context(**extra)
    )


def _refused(member: OrganizationMember, exc: rules.MemberError) -> Response:
    db.session.rollback()
    if exc.forbidden and not exc.last_owner:
        abort(403, exc.message)
    db.session.refresh(member)
    return _row(member, status=422, row_errors={member.id: {exc.field or "form": [exc.message]}})


@bp.route("/<org_slug>/members/<int:member_id>/edit/", methods=["POST"])
@org_required("member:write")
def edit(org_slug: str, member_id: int) -> Response:
    member = _joined_member_or_404(member_id)
    form = MemberEditForm()
    if not form.validate():
        return _row(member, status=422, row_errors={member.id: form.errors})
    try:
        # Unticked checkboxes send nothing: the page's form says with ``_teams`` that it carries the teams.
        teams = rules.teams_by_ids(g.org, form.teams.data or []) if "_teams" in request.form else None
        changed = rules.edit_member(
            g.org,
            member,
            current_user,
            effective_role(),
            role=form.role.data or None,
            teams=teams,
            ip=client_ip(),
        )
    except rules.MemberError as exc:
        return _refused(member, exc)
    db.session.commit()
    name = member.user.display_name if member.user else member.get_email()
    message = f"Saved the changes to {name}." if changed else "Nothing to change."
    if is_htmx():
        return _row(member, row_notice={member.id: message})
    flash(message, "success")
    return _members_page()


@bp.route("/<org_slug>/members/<int:member_id>/remove/", methods=["POST"])
@org_required("member:write")
def remove(org_slug: str, member_id: int) -> Response:
    member = _joined_member_or_404(member_id)
    if member.user_id == current_user.id:
        return leave(org_slug=org_slug)
    email = member.get_email()
    try:
        rules.remove_member(g.org, member, current_user, effective_role(), ip=client_ip())
    except rules.MemberError as exc:
        return _refused(member, exc)
    db.session.commit()
    if is_htmx():
        return htmx.response("", 200)  # an empty answer swaps the row away
    flash(f"Removed {email} from the {g.org.name} organization.", "success")
    return _members_page()


@bp.route("/<org_slug>/leave/", methods=["POST"])
@org_required()
def leave(org_slug: str) -> Response:
    member = g.member
    if member is None:
        abort(400, "You are not a member of this organization.")
    try:
        rules.leave(g.org, member, current_user, ip=client_ip())
    except rules.MemberError as exc:
        return _refused(member, exc)
    name = g.org.name
    if session.get("activeorg") == g.org.slug:
        session.pop("activeorg")
    db.session.commit()
    flash(f"You left the {name} organization.", "success")
    return see_other(landing_url(current_user))
