"""Team pages: the list and create form, one team (rename, delete, members). HTTP only; rules in service.

Anyone in the organization sees its teams; admins and up change them (``team:write``).
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.access import effective_role, org_required
from onboarding.orgs.models import OrganizationMember, OrgFlags, Team
from onboarding.teams import bp, service
from onboarding.teams.forms import TeamForm, TeamMemberForm
from onboarding.web.client import client_ip
from onboarding.web.htmx import is_htmx, render, see_other

LIST = "teams/list.html"
DETAIL = "teams/detail.html"


def _can_write() -> bool:
    return roles.has_permission(effective_role(), "team:write")


def _team_or_404(team_slug: str) -> Team:
    team = service.get_team(g.org, team_slug)
    if team is None:
        abort(404)
    return team


def _list_context(**extra: Any) -> dict[str, Any]:
    teams = service.teams_of(g.org)
    return {
        "org": g.org,
        "teams": teams,
        "counts": {t.id: len(service.members_of(t)) for t in teams},
        "can_write": _can_write(),
        **extra,
    }


def _apply_error(form: TeamForm | TeamMemberForm, exc: service.TeamError) -> None:
    field = getattr(form, exc.field or "", None) or getattr(form, "name", None) or form.member  # type: ignore[union-attr]
    field.errors = [*field.errors, exc.message]


@bp.route("/<org_slug>/teams/", methods=["GET"])
@org_required()
def teams(org_slug: str) -> Response:
    return render(LIST, form=TeamForm(formdata=None), **_list_context())


@bp.route("/<org_slug>/teams/", methods=["POST"])
@org_required("team:write")
def create(org_slug: str) -> Response:
    form = TeamForm()
    if form.validate():
        try:
            team = service.create_team(
                g.org, current_user, form.name.data, slug=form.slug.data, ip=client_ip()
            )
        except service.TeamError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            message = f'Created the team "{team.name}" ({team.slug}).'
            if is_htmx():
                return render(
                    LIST, block="teams_region", form=TeamForm(formdata=None), **_list_context(notice=message)
                )
            flash(message, "success")
            return see_other(url_for("teams.teams", org_slug=g.org.slug))
    return render(LIST, block="teams_region", status=422, form=form, **_list_context())


def _may_join_leave() -> bool:
    """Open membership (Sentry's ``allow_joinleave``): members join and leave teams themselves;
    otherwise only those who may change teams do."""
    return g.org.has_flag(OrgFlags.ALLOW_JOINLEAVE) or _can_write()


def _detail_context(team: Team, **extra: Any) -> dict[str, Any]:
    members = service.members_of(team)
    inside = {m.id for m in members}
    me = g.get("member")
    return {
        "me_in_team": me is not None and me.id in inside,
        "may_join_leave": me is not None and _may_join_leave(),
        "org": g.org,
        "team": team,
        "members": members,
        "candidates": [m for m in orgs.memberships_of(g.org) if m.id not in inside],
        "can_write": _can_write(),
        "roles": roles,
        "member_form": extra.pop("member_form", None) or TeamMemberForm(formdata=None),
        "form": extra.pop("form", None)
        or TeamForm(formdata=None, data={"name": team.name, "slug": team.slug}),
        **extra,
    }


@bp.route("/<org_slug>/teams/<team_slug>/", methods=["GET"])
@org_required()
def detail(org_slug: str, team_slug: str) -> Response:
    team = _team_or_404(team_slug)
    return render(DETAIL, **_detail_context(team))


@bp.route("/<org_slug>/teams/<team_slug>/edit/", methods=["POST"])
@org_required("team:write")
def edit(org_slug: str, team_slug: str) -> Response:
    team = _team_or_404(team_slug)
    form = TeamForm()
    if form.validate():
        try:
            changed = service.edit_team(
                team, current_user, name=form.name.data, slug=form.slug.data, ip=client_ip()
            )
        except service.TeamError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            flash(f'Saved the team "{team.name}".' if changed else "Nothing to change.", "success")
            return see_other(url_for("teams.detail", org_slug=g.org.slug, team_slug=team.slug))
    team = _team_or_404(team_slug)
    return render(DETAIL, block="edit_form", status=422, **_detail_context(team, form=form))


@bp.route("/<org_slug>/teams/<team_slug>/delete/", methods=["POST"])
@org_required("team:write")
def delete(org_slug: str, team_slug: str) -> Response:
    team = _team_or_404(team_slug)
    name = team.name
    service.delete_team(team, current_user, ip=client_ip())
    db.session.commit()
    flash(f'Deleted the team "{name}".', "success")
    return see_other(url_for("teams.teams", org_slug=g.org.slug))


def _member_or_404(member_id: int) -> OrganizationMember:
    member = db.session.get(OrganizationMember, member_id)
    if member is None or member.organization_id != g.org.id:
        abort(404)
    return member


def _after_member_change(team: Team, message: str) -> Response:
    if is_htmx():
        return render(DETAIL, block="team_members", **_detail_context(team, notice=message))
    flash(message, "success")
    return see_other(url_for("teams.detail", org_slug=g.org.slug, team_slug=team.slug))


@bp.route("/<org_slug>/teams/<team_slug>/members/", methods=["POST"])
@org_required("team:write")
def add_member(org_slug: str, team_slug: str) -> Response:
    team = _team_or_404(team_slug)
    form = TeamMemberForm()
    if form.validate():
        member = db.session.get(OrganizationMember, form.member.data)
        try:
            if member is None:
                raise service.TeamError("Choose a member of this organization.", "member")
            added = service.add_member(team, member, current_user, ip=client_ip())
        except service.TeamError as exc:
            db.session.rollback()
            _apply_error(form, exc)
        else:
            db.session.commit()
            name = member.user.display_name if member.user else member.get_email()
            return _after_member_change(
                team, f"Added {name} to {team.name}." if added else f"{name} is already in {team.name}."
            )
    return render(DETAIL, block="team_members", status=422, **_detail_context(team, member_form=form))


@bp.route("/<org_slug>/teams/<team_slug>/join/", methods=["POST"])
@org_required()
def join(org_slug: str, team_slug: str) -> Response:
    """A member puts themselves in a team (open membership, or admins and up)."""
    team = _team_or_404(team_slug)
    if g.get("member") is None or not _may_join_leave():
        abort(403, "Only admins add members to teams in this organization.")
    added = service.add_member(team, g.member, current_user, ip=client_ip())
    db.session.commit()
    return _after_member_change(
        team, f"You joined {team.name}." if added else f"You are already in {team.name}."
    )


@bp.route("/<org_slug>/teams/<team_slug>/leave/", methods=["POST"])
@org_required()
def leave(org_slug: str, team_slug: str) -> Response:
    team = _team_or_404(team_slug)
    if g.get("member") is None or not _may_join_leave():
        abort(403, "Only admins take members out of teams in this organization.")
    removed = service.remove_member(team, g.member, current_user, ip=client_ip())
    db.session.commit()
    return _after_member_change(team, f"You left {team.name}." if removed else f"You are not in {team.name}.")


@bp.route("/<org_slug>/teams/<team_slug>/members/<int:member_id>/remove/", methods=["POST"])
@org_required("team:write")
def remove_member(org_slug: str, team_slug: str, member_id: int) -> Response:
    team = _team_or_404(team_slug)
    member = _member_or_404(member_id)
    removed = service.remove_member(team, member, current_user, ip=client_ip())
    db.session.commit()
    name = member.user.display_name if member.user else member.get_email()
    return _after_member_change(
        team, f"Removed {name} from {team.name}." if removed else f"{name} is not in {team.name}."
    )
