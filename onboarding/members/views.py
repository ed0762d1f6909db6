"""``/organizations/<slug>/members/``: members, pending invites and requests, the invite form, actions."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import abort, flash, g, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from werkzeug.wrappers import Response

from onboarding import ratelimit
from onboarding.extensions import db, utcnow
from onboarding.invitelinks import service as link_requests
from onboarding.invites import service as invites
from onboarding.members import bp
from onboarding.members import service as member_rules
from onboarding.members.forms import InviteForm, JoinRequestForm
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.access import effective_role, org_required
from onboarding.orgs.models import OrganizationMember, OrgFlags, Team
from onboarding.web.client import client_ip
from onboarding.web.converters import page_number
from onboarding.web.htmx import is_htmx, render, see_other

TEMPLATE = "members/list.html"


def _teams() -> list[Team]:
    return list(db.session.scalars(select(Team).where(Team.organization_id == g.org.id).order_by(Team.name)))


def _can_invite() -> bool:
    return roles.has_permission(effective_role(), "member:invite")


def _can_request() -> bool:
    return not g.org.has_flag(OrgFlags.DISABLE_MEMBER_INVITE) and bool(effective_role())


def _invite_form() -> InviteForm:
    form = InviteForm()
    assignable = (
        roles.allowed_to_assign(effective_role())
        if _can_invite()
        else [r for r in roles.ROLES if r.rank <= roles.rank("manager")]
    )
    form.role.choices = [(r.id, r.name) for r in assignable]
    if not form.is_submitted():
        form.role.data = g.org.default_role
    form.teams.choices = [(t.id, t.name) for t in _teams()]
    return form


def _context(**extra: Any) -> dict[str, Any]:
    from onboarding.outbox.service import backlog

    pending = invites.pending_invites(g.org)
    return {
        "org": g.org,
        "role": effective_role(),
        "can_invite": _can_invite(),
        "can_request": _can_request(),
        "members": orgs.memberships_of(g.org),
        "invites": pending,
        "email_states": invites.email_states(pending) if _can_invite() else {},
        "stats": invites.stats(g.org),
        "now": utcnow(),
        "roles": roles,
        # Only what is overdue: a fresh invite's email leaves within a second and is not news.
        "backlog": backlog(older_than=timedelta(minutes=1)) if _can_invite() else 0,
        "me_id": g.member.id if g.get("member") is not None else None,
        "can_manage": lambda m: member_rules.can_manage(effective_role(), m),
        "assignable_roles": roles.allowed_to_assign(effective_role()),
        "team_choices": _teams(),
        "row_errors": {},
        **extra,
    }


@bp.route("/<org_slug>/members/", methods=["GET", "POST"])
@org_required()
def members(org_slug: str) -> Response:
    form = _invite_form()
    if request.method == "GET":
        return render(TEMPLATE, form=form, **_context())
    if not (_can_invite() or _can_request()):
        abort(403, "Your role in this organization does not allow inviting.")
    outcomes: list[invites.Outcome] = []
    if form.validate():
        teams = [t for t in _teams() if t.id in (form.teams.data or [])]
        try:
            outcomes = invites.invite_many(
                g.org,
                current_user,
                effective_role(),
                form.emails.data,
                form.role.data,
                teams,
                ip=client_ip(),
                request_only=not _can_invite(),
            )
        except invites.InviteError as exc:
            getattr(form, exc.field or "emails").errors = [str(exc)]
    db.session.commit()
    failed = [o for o in outcomes if not o.ok]
    done = [o for o in outcomes if o.ok]
    if done and not failed:
        if is_htmx():  # the swapped region lists the results itself (a flash too would say it twice)
            form = _invite_form()
            form.emails.data = ""
            return render(TEMPLATE, block="invites_region", form=form, **_context(results=done))
        for outcome in done:
            flash(outcome.message, "success")
        return see_other(url_for("members.members", org_slug=g.org.slug))
    # Keep what still needs attention in the box: nothing typed is lost. Some invited and some not is a
    # success (200) that lists each address's outcome; only when nobody was invited is it a 422.
    if failed:
        form.emails.data = "\n".join(o.email for o in failed)
    status = 200 if done else 422 if (failed or form.errors) else 200
    return render(TEMPLATE, block="invites_region", status=status, form=form, **_context(results=outcomes))


def _member_or_404(member_id: int) -> OrganizationMember:
    member = db.session.get(OrganizationMember, member_id)
    if member is None or member.organization_id != g.org.id:
        abort(404)
    return member


def _after_action(message: str) -> Response:
    db.session.commit()
    flash(message, "success")
    if is_htmx():
        return render(TEMPLATE, block="invites_region", form=_invite_form(), **_context())
    return see_other(url_for("members.members", org_slug=g.org.slug))


def _refused(exc: invites.InviteError) -> Response:
    """A refused action on an invite: 403 when the role rule refuses (plain form: the members page
    again, with the reason), otherwise the page with the message (htmx: 409 in place)."""
    db.session.rollback()
    flash(str(exc), "error")
    if exc.status == 403 and not is_htmx():
        return render(TEMPLATE, status=403, form=_invite_form(), **_context())
    if is_htmx():
        return render(TEMPLATE, block="invites_region", status=409, form=_invite_form(), **_context())
    return see_other(url_for("members.members", org_slug=g.org.slug))


@bp.route("/<org_slug>/members/<int:member_id>/resend/", methods=["POST"])
@org_required("member:invite")
def resend(org_slug: str, member_id: int) -> Response:
    member = _member_or_404(member_id)
    try:
        invites.resend(member, current_user, effective_role(), ip=client_ip())
    except invites.InviteError as exc:
        return _refused(exc)
    return _after_action(f"Sent a new invite to {member.email}.")


@bp.route("/<org_slug>/members/<int:member_id>/revoke/", methods=["POST"])
@org_required("member:invite")
def revoke(org_slug: str, member_id: int) -> Response:
    member = _member_or_404(member_id)
    email = member.email
    try:
        invites.revoke(member, current_user, effective_role(), ip=client_ip())
    except invites.InviteError as exc:
        return _refused(exc)
    return _after_action(f"Revoked the invite for {email}.")


@bp.route("/<org_slug>/members/<int:member_id>/approve/", methods=["POST"])
@org_required("member:invite")
def approve(org_slug: str, member_id: int) -> Response:
    member = _member_or_404(member_id)
    email = member.email
    try:
        # A request filed through an invite link: its account becomes a member at once.
        if link_requests.approve(member, current_user, effective_role(), ip=client_ip()):
            return _after_action(f"Approved: {email} is now a member.")
        invites.approve(member, current_user, effective_role(), ip=client_ip())
    except link_requests.LinkError as exc:
        return _refused(invites.InviteError(exc.message))
    except invites.InviteError as exc:
        return _refused(exc)
    return _after_action(f"Approved and invited {member.email}.")


@bp.route("/<org_slug>/members/<int:member_id>/reject/", methods=["POST"])
@org_required("member:invite")
def reject(org_slug: str, member_id: int) -> Response:
    member = _member_or_404(member_id)
    email = member.email
    try:
        if link_requests.reject(member, current_user, effective_role(), ip=client_ip()):
            return _after_action(f"Rejected the request from {email}.")
        invites.reject(member, current_user, effective_role(), ip=client_ip())
    except link_requests.LinkError as exc:
        return _refused(invites.InviteError(exc.message))
    except invites.InviteError as exc:
        return _refused(exc)
    return _after_action(f"Rejected the request from {email}.")


@bp.route("/<org_slug>/members/<int:member_id>/link/", methods=["POST"])
@org_required("member:invite")
def fresh_link(org_slug: str, member_id: int) -> Response:
    """A new invite link, shown once, for installs without mail (earlier links stop working)."""
    member = _member_or_404(member_id)
    try:
        url = invites.fresh_link(member, current_user, effective_role(), ip=client_ip())
    except invites.InviteError as exc:
        return _refused(exc)
    db.session.commit()
    resp = render("members/link.html", org=g.org, member=member, url=url)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


JOIN_LIMIT = ratelimit.Limit("join-request:ip", 10, 3600)


@bp.route("/<org_slug>/join-request/", methods=["GET", "POST"])
def join_request(org_slug: str) -> Response:
    """Outsiders ask to join (when the organization allows it). The answer never tells who is a member."""
    org = orgs.get_org_by_slug(org_slug)
    if org is None or not invites.join_requests_allowed(org):
        abort(404)
    form = JoinRequestForm()
    if form.validate_on_submit():
        ip = client_ip() or "unknown"
        wait = ratelimit.retry_after(JOIN_LIMIT, ip)
        if wait:
            resp = render(
                "members/join_request.html",
                form=form,
                org=org,
                status=429,
                error="You have made too many requests. Please try again later.",
            )
            resp.headers["Retry-After"] = str(wait)
            return resp
        ratelimit.hit(JOIN_LIMIT, ip)
        invites.request_join(org, form.email.data, form.name.data, ip=client_ip())
        db.session.commit()
        return render("members/join_request.html", org=org, form=None, sent=True)
    status = 422 if form.is_submitted() else 200
    return render("members/join_request.html", form=form, org=org, status=status)


@bp.route("/<org_slug>/audit-log/")
@org_required("member:invite")
def audit_log(org_slug: str) -> str:
    from onboarding.audit.models import AuditLogEntry

    page = page_number(request.args.get("page"))
    per_page = 50
    entries = list(
        db.session.scalars(
            select(AuditLogEntry)
            .where(AuditLogEntry.organization_id == g.org.id)
            .order_by(AuditLogEntry.datetime.desc(), AuditLogEntry.id.desc())
            .offset((page - 1) * per_page)
            .limit(per_page + 1)
        )
    )
    return render_template(
        "audit/log.html", org=g.org, entries=entries[:per_page], page=page, has_more=len(entries) > per_page
    )
