"""``/organizations/…``: the organization home, creating one, and the page for people with none."""

from __future__ import annotations

from flask import abort, current_app, flash, g, render_template, session, url_for
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.orgs import bp
from onboarding.orgs import service as orgs
from onboarding.orgs.access import effective_role, org_required
from onboarding.orgs.forms import OrganizationCreateForm
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other


@bp.route("/")
@login_required
def no_organization() -> Response | tuple[str, int]:
    mine = orgs.memberships(current_user)
    if mine:
        return see_other(url_for("orgs.home", org_slug=mine[0].organization.slug))
    if not current_app.config["SINGLE_ORGANIZATION"]:
        return see_other(url_for("orgs.create"))
    return render_template("orgs/no_organization.html"), 403


@bp.route("/new/", methods=["GET", "POST"])
@login_required
def create() -> Response:
    if current_app.config["SINGLE_ORGANIZATION"]:
        abort(404, "This installation has a single organization.")
    if not current_app.config["ALLOW_ORGANIZATION_CREATE"] and not current_user.is_superuser:
        abort(403, "Only administrators can create organizations on this server.")
    form = OrganizationCreateForm()
    if form.validate_on_submit():
        try:
            org = orgs.create_organization(form.name.data, slug=form.slug.data or None, owner=current_user)
            audit.record(
                "org.add",
                organization_id=org.id,
                actor=current_user,
                target_object=org.id,
                ip_address=client_ip(),
                data=org.audit_data(),
            )
            db.session.commit()
        except IntegrityError:
            # Someone took the slug between the check and the insert (PostgreSQL; SQLite serialises).
            db.session.rollback()
            taken = form.slug.data or orgs.slugify(form.name.data)
            form.slug.errors = [f'The slug "{taken}" is already in use.']
        else:
            flash(f"The {org.name} organization was created.", "success")
            session["activeorg"] = org.slug
            return see_other(url_for("orgs.home", org_slug=org.slug))
    status = 422 if form.is_submitted() else 200
    return render("orgs/new.html", block="form", status=status, form=form)


@bp.route("/<org_slug>/")
@org_required()
def home(org_slug: str) -> Response:
    from onboarding.orgs import onboarding_tasks, roles

    role = effective_role()
    return render(
        "orgs/home.html",
        org=g.org,
        role=role,
        members=orgs.memberships_of(g.org),
        checklist=onboarding_tasks.checklist(g.org.id),
        can_invite=roles.has_permission(role, "member:invite"),
    )
