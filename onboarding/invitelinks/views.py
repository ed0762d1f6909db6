"""Managers' list of invite links, and the ``/join/<token>/`` landing page every visitor of a link sees."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, render_template, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.invitelinks import service as links
from onboarding.invitelinks import session as link_session
from onboarding.invitelinks.forms import InviteLinkForm
from onboarding.invitelinks.models import InviteLink
from onboarding.invitelinks.service import Joined, JoinResult
from onboarding.invites import service as invites
from onboarding.invites.service import INVALID_LINK
from onboarding.orgs import roles
from onboarding.orgs.access import effective_role, org_required
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

bp = Blueprint("invite_links", __name__)


def _private(resp: Response) -> Response:
    # The token is in the URL (or the page): never cached, never sent on in a Referer header.
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _form() -> InviteLinkForm:
    form = InviteLinkForm()
    form.role.choices = [(r.id, r.name) for r in roles.allowed_to_assign(effective_role())]
    if not form.is_submitted():
        form.role.data = g.org.default_role if g.org.default_role in dict(form.role.choices) else "member"
    return form


def _page(
    form: InviteLinkForm, *, status: int = 200, new_url: str | None = None, new: InviteLink | None = None
) -> Response:
    resp = render(
        "invitelinks/links.html",
        org=g.org,
        form=form,
        links=links.links_of(g.org),
        new_url=new_url,
        new_link=new,
        role_names={r.id: r.name for r in roles.ROLES},
        can_revoke={r.id for r in roles.allowed_to_assign(effective_role())},
        status=status,
    )
    return _private(resp) if new_url else resp


@bp.route("/organizations/<org_slug>/invite-links/", methods=["GET", "POST"], endpoint="links")
@org_required("member:invite")
def links_page(org_slug: str) -> Response:
    form = _form()
    if not form.validate_on_submit():
        return _page(form, status=422 if form.is_submitted() else 200)
    try:
        domains = links.parse_domains(form.allowed_domains.data)
        link, raw = links.create(
            g.org,
            current_user,
            effective_role(),
            role=form.role.data,
            max_uses=form.max_uses.data,
            expires_days=form.expires_days.data,
            allowed_domains=domains,
            require_approval=bool(form.require_approval.data),
            ip=client_ip(),
        )
    except links.LinkError as exc:
        db.session.rollback()
        field = getattr(form, exc.field, None) if exc.field else None
        if field is not None:
            field.errors = [*field.errors, exc.message]
        else:
            form.form_errors.append(exc.message)
        resp = _page(form, status=exc.status)
        if exc.retry_after:
            resp.headers["Retry-After"] = str(exc.retry_after)
        return resp
    db.session.commit()
    url = f"{invites.base_url()}/join/{raw}/"
    return _page(_form_after_create(), status=201, new_url=url, new=link)


def _form_after_create() -> InviteLinkForm:
    form = InviteLinkForm(formdata=None)
    form.role.choices = [(r.id, r.name) for r in roles.allowed_to_assign(effective_role())]
    form.role.data = "member"
    return form


@bp.route("/organizations/<org_slug>/invite-links/<int:link_id>/revoke/", methods=["POST"])
@org_required("member:invite")
def revoke(org_slug: str, link_id: int) -> Response:
    link = links.get(g.org, link_id)
    if link is None:
        abort(404)
    try:
        links.revoke(link, current_user, effective_role(), ip=client_ip())
    except links.LinkError as exc:
        abort(exc.status, exc.message)
    db.session.commit()
    flash("The link was revoked: it no longer works.", "success")
    return see_other(url_for("invite_links.links", org_slug=org_slug))


# -- /join/<token>/ ---------------------------------------------------------------------------------


TOO_MANY_LINKS = "You have followed too many invalid invite links. Please try again later."


@bp.before_request
def _throttle_link_guessing() -> Response | None:
    """Guessing tokens: past the invite journey's limit of invalid links from this client (invite links
    and shareable links count together), every ``/join/`` page is a 429, before any database work."""
    if request.endpoint not in ("invite_links.join", "invite_links.confirm"):
        return None
    wait = invites.link_guess_wait(client_ip())
    if not wait:
        return None
    body = render_template("errors/error.html", code=429, title="Too many attempts", message=TOO_MANY_LINKS)
    resp = _private(Response(body, status=429, mimetype="text/html"))
    resp.headers["Retry-After"] = str(wait)
    return resp


def invalid_page() -> Response:
    invites.count_link_guess(client_ip())
    body = render_template("invites/invalid.html", message=INVALID_LINK, member=None, token=None)
    return _private(Response(body, status=404, mimetype="text/html"))


@bp.route("/join/<token>/", methods=["GET", "POST"])
def join(token: str) -> Response:
    link = links.live(token)
    if link is None:
        return invalid_page()
    here = f"/join/{token}/"
    if not current_user.is_authenticated:
        link_session.remember(token)
        session["_next"] = here
        if request.method == "POST":
            return see_other(url_for("auth.login", next=here))
        return _private(
            render("invitelinks/join.html", link=link, org=link.organization, state="anonymous", here=here)
        )
    if request.method == "GET":
        return _private(
            render("invitelinks/join.html", link=link, org=link.organization, state="ready", here=here)
        )
    result = links.join(link, current_user, ip=client_ip())
    db.session.commit()
    return answer(result, link, here)


def answer(result: JoinResult, link: InviteLink, here: str) -> Response:
    """The page or redirect for a join's outcome (the landing page, and after registering through a link)."""
    org = result.organization
    if result.outcome is Joined.INVALID or org is None:
        return invalid_page()
    if result.outcome is not Joined.DOMAIN_REFUSED:
        link_session.forget()
    if result.outcome in (Joined.JOINED, Joined.ALREADY_MEMBER):
        session["activeorg"] = org.slug
        if result.outcome is Joined.JOINED:
            flash(f"You have been added to the {org.name} organization.", "success")
        else:
            flash(f"You are already a member of the {org.name} organization.", "info")
        return see_other(url_for("orgs.home", org_slug=org.slug))
    status = 403 if result.outcome is Joined.DOMAIN_REFUSED else 200
    state = {
        Joined.REQUESTED: "requested",
        Joined.ALREADY_REQUESTED: "requested",
        Joined.CONFIRM_SENT: "confirm_sent",
        Joined.DOMAIN_REFUSED: "domain_refused",
    }[result.outcome]
    return _private(
        render(
            "invitelinks/join.html",
            link=link,
            org=org,
            state=state,
            email=result.email,
            here=here,
            refusal=links.domain_refusal(link) if link.allowed_domains else None,
            status=status,
        )
    )


@bp.route("/join/confirm/<signed>/", methods=["GET", "POST"])
def confirm(signed: str) -> Response:
    """The emailed proof of address: a button (mail scanners open links; only a person presses it)."""
    if request.method == "GET":
        return _private(render("invitelinks/confirm.html", signed=signed))
    result = links.confirm(signed, ip=client_ip())
    db.session.commit()
    org = result.organization
    if result.outcome is Joined.INVALID or org is None:
        return invalid_page()
    if result.outcome in (Joined.REQUESTED, Joined.ALREADY_REQUESTED):
        return _private(render("invitelinks/confirm.html", signed=None, org=org, state="requested"))
    if current_user.is_authenticated:
        session["activeorg"] = org.slug
        verb = "have been added to" if result.outcome is Joined.JOINED else "are already a member of"
        flash(f"You {verb} the {org.name} organization.", "success")
        return see_other(url_for("orgs.home", org_slug=org.slug))
    return _private(render("invitelinks/confirm.html", signed=None, org=org, state="joined"))
