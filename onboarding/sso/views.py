"""SSO pages: the organization's provider settings, starting the flow, the callback, linking."""

from __future__ import annotations

import hmac
import time
from typing import Any

from flask import abort, current_app, flash, g, request, session, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.auth.flow import sign_in
from onboarding.database import set_write_intent
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.access import org_required
from onboarding.orgs.models import AuthProvider, Organization
from onboarding.sso import bp, oidc
from onboarding.sso import service as sso
from onboarding.sso.flow import (
    FLOW_KEY,
    FLOW_SECONDS,
    LINK_KEY,
    accept_invite_after_sso,
    invite_held_for,
    mark_sso_complete,
)
from onboarding.sso.forms import ProviderForm
from onboarding.twofactor import service as tf
from onboarding.twofactor.service import user_has_2fa
from onboarding.web.client import client_ip
from onboarding.web.errors import error_page
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import render, see_other
from onboarding.web.redirects import safe_path

FLOW_INVALID = "This sign-in attempt was not recognised or has expired. Start again from the sign-in page."
PENDING_SSO_KEY = "_pending_sso"


@bp.app_template_global()
def sso_provider_name(org: Organization | None) -> str | None:
    """The organization's provider name for "Continue with …", or None without SSO."""
    if org is None:
        return None
    provider = orgs.auth_provider_for(org)
    return sso.display_name(provider) if provider is not None else None


def _refuse(message: str, status: int = 400) -> Response:
    db.session.rollback()
    return error_page(status, message, title="Single sign-on failed")


def _org_with_provider(org_slug: str) -> tuple[Organization, AuthProvider]:
    org = orgs.get_org_by_slug(org_slug)
    provider = orgs.auth_provider_for(org) if org is not None else None
    if org is None or provider is None:
        abort(404)
    return org, provider


def _redirect_uri(org: Organization) -> str:
    path = url_for("sso.callback", org_slug=org.slug)
    base = current_app.config.get("BASE_URL")
    return f"{base}{path}" if base else url_for("sso.callback", org_slug=org.slug, _external=True)


# --- starting the flow ----------------------------------------------------------------------------


@bp.route("/auth/sso/<org_slug>/", methods=["GET"])
def start_page(org_slug: str) -> Response:
    org, provider = _org_with_provider(org_slug)
    next_url = safe_path(request.args.get("next"))
    if next_url:
        session["_next"] = next_url
    return render("sso/start.html", org=org, provider_name=sso.display_name(provider), form=EmptyForm())


@bp.route("/auth/sso/<org_slug>/", methods=["POST"])
def start(org_slug: str) -> Response:
    """Send the browser to the provider with a fresh state, nonce and PKCE challenge."""
    org, provider = _org_with_provider(org_slug)
    values = oidc.new_flow_values()
    session[FLOW_KEY] = {
        **values,
        "org_id": org.id,
        "provider_id": provider.id,
        "ts": int(time.time()),
        "next": safe_path(request.args.get("next")) or safe_path(session.get("_next")),
    }
    url = oidc.authorization_url(provider.config, _redirect_uri(org), values)
    db.session.rollback()
    return see_other(url)


# --- the callback ---------------------------------------------------------------------------------


@bp.route("/auth/sso/<org_slug>/callback/", methods=["GET"])
def callback(org_slug: str) -> Response:
    set_write_intent(True)  # this GET signs in and may create rows
    flow: dict[str, Any] | None = session.pop(FLOW_KEY, None)
    org = orgs.get_org_by_slug(org_slug)
    if org is None:
        abort(404)
    provider = orgs.auth_provider_for(org)
    if provider is None:
        return _refuse("This organization does not use single sign-on.")
    name = sso.display_name(provider)
    if request.args.get("error"):
        return _refuse(f"{name} did not sign you in ({request.args.get('error', '')[:100]}).")
    state = request.args.get("state") or ""
    if (
        not isinstance(flow, dict)
        or flow.get("org_id") != org.id
        or flow.get("provider_id") != provider.id
        or not isinstance(flow.get("ts"), int)
        or time.time() - flow["ts"] > FLOW_SECONDS
        or not hmac.compare_digest(str(flow.get("state", "")).encode(), state.encode())
    ):
        return _refuse(FLOW_INVALID)
    code = request.args.get("code") or ""
    if not code or len(code) > 2000:
        return _refuse(FLOW_INVALID)
    try:
        ident = oidc.complete(
            provider.config, _redirect_uri(org), code, flow, current_app.config["SSO_HTTP_TIMEOUT"]
        )
    except oidc.OIDCError as exc:
        return _refuse(str(exc))
    if not ident.email or not ident.email_verified:
        return _refuse(
            f"{name} has not verified the email address of this account"
            f"{' (' + ident.email + ')' if ident.email else ''}. Verify it with {name}, then try again."
        )
    return _finish(org, provider, ident, flow.get("next"))


def _ensure_member(user: User, org: Organization, provider: AuthProvider, ident: oidc.Identity) -> str | None:
    """Membership after linking: ``"member"`` (already one), ``"invite"`` (an invite was accepted,
    integration hook), ``"jit"`` (added just in time, when the provider allows), or None."""
    if orgs.get_membership(org, user) is not None:
        return "member"
    if accept_invite_after_sso(user, org, ident.email):
        return "invite"
    if sso.allows_jit(provider):
        orgs.add_member(org, user, role=provider.default_role)
        return "jit"
    return None


def _not_member(org: Organization) -> Response:
    return _refuse(
        f"You are not a member of {org.name}. Ask one of its owners or managers for an invite.", status=403
    )


def _finish(
    org: Organization, provider: AuthProvider, ident: oidc.Identity, next_url: str | None
) -> Response:
    name = sso.display_name(provider)
    identity = sso.find_identity(provider, ident.subject)
    signed_in: User | None = current_user if current_user.is_authenticated else None
    if identity is not None:
        user = db.session.get(User, identity.user_id)
        if user is None or not user.is_active:
            return _refuse("This account has been disabled.", status=403)
        if signed_in is not None and signed_in.id != user.id:
            return _refuse(
                f"This {name} account is linked to another user. Sign out, then sign in with {name} again.",
                status=403,
            )
        sso.touch(identity, ident)
        how = _ensure_member(user, org, provider, ident)
        if how is None:
            return _not_member(org)
        return _sign_in_and_go(user, org, provider, next_url, joined=how != "member")

    if signed_in is not None:
        try:
            sso.link(provider, signed_in, ident)
        except sso.SSOError as exc:
            return _refuse(str(exc), status=409)
        how = _ensure_member(signed_in, org, provider, ident)
        if how is None:
            return _not_member(org)
        audit.record(
            "sso.link",
            organization_id=org.id,
            actor=signed_in,
            target_user_id=signed_in.id,
            ip_address=client_ip(),
            data={"provider": provider.id},
        )
        return _sign_in_and_go(signed_in, org, provider, next_url, joined=how != "member")

    if accounts.get_user_by_email(ident.email) is not None:
        # Never link by email alone: the account's owner proves it by signing in, then we link.
        session[LINK_KEY] = {
            "org_id": org.id,
            "provider_id": provider.id,
            "sub": ident.subject,
            "email": ident.email,
            "name": ident.name,
            "claims": ident.claims,
            "ts": int(time.time()),
            "next": next_url,
        }
        db.session.rollback()
        flash(
            f"An account with {ident.email} already exists here. Sign in with its password to link it to {name}.",
            "warning",
        )
        return see_other(
            url_for("auth.org_login", org_slug=org.slug, next=url_for("sso.link", org_slug=org.slug))
        )

    # A new person: an account for the verified email, joined through their invite (the one held in
    # the session, or the one sent to that address) or else just in time. Refused, it all rolls back.
    user = sso.create_user_for_identity(ident)
    sso.link(provider, user, ident)
    how = _ensure_member(user, org, provider, ident)
    if how is None:
        invited = invite_held_for(org)
        if invited and invited != ident.email:
            return _refuse(
                f"The invite was sent to {invited}, but {name} signed you in as {ident.email}. "
                f"Continue with the {name} account of {invited}, or ask for an invite to {ident.email}.",
                status=403,
            )
        return _refuse(
            f"No account here is linked to this {name} identity, and {org.name} does not create accounts "
            "automatically. Ask one of its owners or managers for an invite.",
            status=403,
        )
    if how == "jit":
        audit.record(
            "member.add",
            organization_id=org.id,
            actor=user,
            target_user_id=user.id,
            ip_address=client_ip(),
            data={"email": user.email, "role": provider.default_role, "via": "sso"},
        )
    return _sign_in_and_go(user, org, provider, next_url, joined=True)


def _sign_in_and_go(
    user: User, org: Organization, provider: AuthProvider, next_url: str | None, *, joined: bool = False
) -> Response:
    already = current_user.is_authenticated and current_user.id == user.id
    # Someone who has just joined lands on the organization's home (the return address may be the
    # invite's page, whose link is used up now); others go back where they were heading.
    home = url_for("orgs.home", org_slug=org.slug)
    target = home if joined else (safe_path(next_url) or home)
    if not already and user_has_2fa(user.id):
        # Two-factor still applies; SSO freshness is recorded once the code is entered.
        session["_next"] = target
        session[PENDING_SSO_KEY] = org.id
        tf.begin_pending(user, org.id)
        db.session.commit()
        return see_other(url_for("twofactor.challenge"))
    if not already:
        flashes = session.get("_flashes")
        sign_in(user)
        if flashes:  # e.g. "You have been added to …", flashed before the session was rotated
            session["_flashes"] = flashes
    session.pop("_next", None)  # used (or overridden) here; a stale one would redirect a later sign-in
    mark_sso_complete(org.id)
    session["activeorg"] = org.slug
    audit.record(
        "user.login.success",
        organization_id=org.id,
        actor=user,
        ip_address=client_ip(),
        data={"sso": provider.id},
    )
    db.session.commit()
    return see_other(target)


# --- linking an existing account after its owner signed in ----------------------------------------


def _pending_link(org: Organization) -> dict[str, Any] | None:
    entry = session.get(LINK_KEY)
    provider = orgs.auth_provider_for(org)
    if (
        not isinstance(entry, dict)
        or provider is None
        or entry.get("org_id") != org.id
        or entry.get("provider_id") != provider.id
        or time.time() - int(entry.get("ts", 0)) > FLOW_SECONDS
    ):
        return None
    return entry


@bp.route("/auth/sso/<org_slug>/link/", methods=["GET", "POST"])
@login_required
def link(org_slug: str) -> Response:
    org, provider = _org_with_provider(org_slug)
    entry = _pending_link(org)
    if entry is None:
        session.pop(LINK_KEY, None)
        return _refuse(FLOW_INVALID)
    if request.method == "GET":
        return render(
            "sso/link.html", org=org, provider_name=sso.display_name(provider), entry=entry, form=EmptyForm()
        )
    session.pop(LINK_KEY, None)
    ident = oidc.Identity(
        subject=entry["sub"],
        email=entry["email"],
        email_verified=True,
        name=entry.get("name") or "",
        claims=entry.get("claims") or {},
    )
    return _finish(org, provider, ident, entry.get("next"))


# --- the organization's provider settings ---------------------------------------------------------


@bp.route("/organizations/<org_slug>/settings/sso/", methods=["GET", "POST"], endpoint="settings")
@org_required("org:admin")
def settings(org_slug: str) -> Response:
    org = g.org
    provider = orgs.auth_provider_for(org)
    form = ProviderForm()
    if request.method == "GET" and provider is not None:
        form.name.data = provider.config.get("name")
        form.issuer.data = provider.config.get("issuer")
        form.client_id.data = provider.config.get("client_id")
        form.required.data = "required" if provider.requires_sso else "optional"
        form.default_role.data = provider.default_role
        form.allow_jit.data = sso.allows_jit(provider)
    if request.method == "POST":
        if form.validate():
            try:
                sso.configure(
                    org,
                    name=form.name.data,
                    issuer=form.issuer.data,
                    client_id=form.client_id.data,
                    client_secret=form.client_secret.data or None,
                    required=form.required.data == "required",
                    default_role=form.default_role.data,
                    allow_jit=bool(form.allow_jit.data),
                    actor=current_user,
                    ip=client_ip(),
                    timeout=current_app.config["SSO_HTTP_TIMEOUT"],
                )
            except (sso.SSOError, oidc.OIDCError) as exc:
                db.session.rollback()
                form.form_errors.append(str(exc))
            else:
                db.session.commit()
                flash(
                    "Single sign-on is set up. Members sign in with it from the organization's sign-in page."
                )
                return see_other(url_for("sso.settings", org_slug=org.slug))
        form.client_secret.data = ""
        return render("sso/settings.html", status=422, org=org, provider=provider, form=form)
    return render("sso/settings.html", org=org, provider=provider, form=form)


@bp.route("/organizations/<org_slug>/settings/sso/disable/", methods=["POST"], endpoint="disable")
@org_required("org:admin")
def disable(org_slug: str) -> Response:
    if sso.disable(g.org, actor=current_user, ip=client_ip()):
        flash("Single sign-on is turned off.", "success")
    db.session.commit()
    return see_other(url_for("sso.settings", org_slug=g.org.slug))
