"""``/auth/…``: the sign-in page with its three forms, the organization sign-in page, sign-out."""

from __future__ import annotations

import time
from typing import Any

from flask import abort, current_app, flash, request, session, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding import metrics
from onboarding.accounts.service import AccountError, normalize_email
from onboarding.audit import service as audit
from onboarding.auth import bp
from onboarding.auth import service as auth
from onboarding.auth.flow import (
    after_sign_in,
    can_register,
    initiate_login,
    landing_url,
    sign_in,
    sign_out,
)
from onboarding.auth.forms import LoginForm, RegisterForm, SSOForm
from onboarding.database import write_intent
from onboarding.extensions import db
from onboarding.invitelinks import session as link_session
from onboarding.invites import session as invite_session
from onboarding.orgs import service as orgs
from onboarding.orgs.models import Organization
from onboarding.passwords import hash_password
from onboarding.twofactor.service import second_step_pending, user_has_2fa
from onboarding.web import htmx
from onboarding.web.client import client_ip
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import is_htmx, render, see_other
from onboarding.web.humanize import wait_sentence
from onboarding.web.redirects import safe_path

SSO_NOT_FOUND = "The organization does not exist or does not have Single Sign-On enabled."
TEMPLATE = "auth/login.html"


def _register_form(*, bound: bool = True) -> RegisterForm:
    form = RegisterForm() if bound else RegisterForm(formdata=None)
    invited = invite_session.invited_email()
    if invited:
        form.fixed_email = normalize_email(invited)
        if not form.username.data:
            form.username.data = form.fixed_email
    return form


ADMIN_SEEN_SECONDS = 10


def _needs_setup() -> bool:
    """Before the first administrator exists nobody can sign in: the page says how to get the setup link.
    Once one exists, each process remembers it for a few seconds: the sign-in page is the busiest GET,
    and this count was its only database query."""
    seen_until = current_app.extensions.get("onboarding_admin_seen_until", 0.0)
    if time.monotonic() < seen_until:
        return False
    if orgs.count_superusers() == 0:
        return True
    current_app.extensions["onboarding_admin_seen_until"] = time.monotonic() + ADMIN_SEEN_SECONDS
    return False


def _page(
    tab: str,
    *,
    status: int = 200,
    block: str | None = None,
    org: Organization | None = None,
    **forms: Any,
) -> Response:
    ctx: dict[str, Any] = {
        "tab": tab,
        "action": request.full_path.rstrip("?"),
        "org": org,
        "can_register": can_register(),
        "login_form": forms.get("login_form") or LoginForm(formdata=None),
        "register_form": forms.get("register_form")
        or (_register_form(bound=False) if can_register() else None),
        "sso_form": forms.get("sso_form") or SSOForm(formdata=None),
        "login_error": forms.get("login_error"),
        "register_error": forms.get("register_error"),
        "invite_email": invite_session.invited_email(),
        "second_step_pending": second_step_pending(),
        "needs_setup": _needs_setup(),
    }
    return render(TEMPLATE, block=block, status=status, **ctx)


@bp.route("/login/", methods=["GET", "POST"], endpoint="login")
@bp.route("/register/", methods=["GET", "POST"], endpoint="register")
@bp.route("/login/<org_slug>/", methods=["GET", "POST"], endpoint="org_login")
def login(org_slug: str | None = None) -> Response:
    org = None
    if org_slug is not None:
        org = orgs.get_org_by_slug(org_slug)
        if org is None:
            abort(404)
    if request.method == "POST":
        return _post(org)

    if auth.login_page_retry_after(client_ip()):
        abort(429, retry_after=1)  # Sentry: 20 views a second per IP; the error page says "try later"
    next_uri = request.args.get("next") or session.pop("_next", None)
    if current_user.is_authenticated:
        target = safe_path(next_uri) or landing_url(current_user)
        return see_other(target)
    # Opening this page mid-way through a two-factor sign-in keeps that sign-in (and any invite): the
    # page offers to continue it; a new sign-in replaces it.
    initiate_login(next_uri, keep_second_step=True)
    expired = "session_expired" in request.cookies
    if expired and request.cookies["session_expired"]:
        flash("Your session has expired.", "warning")
    tab = (
        "register"
        if request.endpoint == "auth.register"
        else ("sso" if request.args.get("op") == "sso" else "login")
    )
    resp = _page(tab, org=org)
    if expired:
        resp.delete_cookie("session_expired")
    return resp


def _post(org: Organization | None) -> Response:
    op = request.form.get("op")
    if op == "sso":
        return _sso()
    if op == "register":
        if not can_register():
            resp = _page("register", status=403, org=org)
            # htmx does not swap a 403; reload the page, which explains that registration is closed.
            return htmx.response(resp, refresh=True) if is_htmx() else resp
        return _register(org)
    if op == "login":
        return _login(org)
    abort(400, "Unknown form.")


def _sso() -> Response:
    form = SSOForm()
    if form.validate():
        org = orgs.get_org_by_slug(form.organization.data.strip())
        if org is not None and orgs.auth_provider_for(org) is not None:
            params = {k: v for k, v in request.args.items() if v}
            return see_other(url_for("auth.org_login", org_slug=org.slug, **params))  # type: ignore[arg-type]
        form.organization.errors = [SSO_NOT_FOUND]
    return _page("sso", status=422, block="sso_form", sso_form=form)


def _audit_org_id(org: Organization | None) -> int | None:
    if org is not None:
        return org.id
    default = orgs.default_organization() if current_app.config["SINGLE_ORGANIZATION"] else None
    return default.id if default is not None else None


def _login(org: Organization | None) -> Response:
    form = LoginForm()
    email = normalize_email(form.username.data)
    password = form.password.data or ""
    ip = client_ip()

    def fail(message: str, status: int) -> Response:
        form.password.data = ""
        return _page(
            "login", status=status, block="login_form", org=org, login_form=form, login_error=message
        )

    # Throttle first: a throttled answer must not cost a password hash.
    wait = auth.login_retry_after(email, ip)
    if wait:
        metrics.sign_in("throttled")
        resp = fail(auth.THROTTLED + wait_sentence(wait), 429)
        resp.headers["Retry-After"] = str(wait)
        return resp
    if not form.validate() or not email or not password:
        metrics.sign_in("invalid")
        return fail(auth.INVALID_LOGIN, 422)

    user = auth.accounts.authenticate(email, password)
    if user is None:
        auth.record_login_failure(email, ip)
        audit.record(
            "user.login.failure", organization_id=_audit_org_id(org), actor_label=email[:254], ip_address=ip
        )
        db.session.commit()
        metrics.sign_in("failure")
        return fail(auth.INVALID_LOGIN, 422)
    if not user.is_active:
        db.session.rollback()
        metrics.sign_in("disabled")
        # 403 for a plain form; htmx swaps only 2xx/422/429, so it gets the same form error as a 422.
        return fail(auth.DISABLED, 422 if is_htmx() else 403)
    if user_has_2fa(user.id):
        from onboarding.twofactor.flow import start_second_step

        return start_second_step(user, org)

    sign_in(user)
    if org is not None and orgs.get_membership(org, user) is not None:
        session["activeorg"] = org.slug
    audit.record("user.login.success", organization_id=_audit_org_id(org), actor=user, ip_address=ip)
    target = after_sign_in(user)
    db.session.commit()
    metrics.sign_in("success")
    return see_other(target)


def _register(org: Organization | None) -> Response:
    form = _register_form()
    field = request.form.get("_validate")
    if field:
        # Inline check while typing: format only, never "is this email registered?". Only the email
        # field asks (the template has an error block for it alone).
        if field != "username":
            abort(400)
        form.check_taken = False
        form.validate()
        return _page("register", block=f"field_error_{field}", register_form=form, org=org)

    wait = auth.registration_retry_after(client_ip())
    if wait:
        resp = _page(
            "register",
            status=429,
            block="register_form",
            register_form=form,
            register_error=auth.REGISTER_THROTTLED + wait_sentence(wait),
            org=org,
        )
        resp.headers["Retry-After"] = str(wait)
        return resp
    # Check the form in a read-only transaction and hash with none open: no write lock is held while
    # hashing (notes §5). The write transaction starts with the account; a race for the address ends
    # in the same "already registered" message.
    with write_intent(False):
        db.session.rollback()  # whatever this request read so far: nothing written yet
        valid = form.validate()
        db.session.rollback()
    from onboarding.invitelinks import resume as link_resume  # auth → invite links, one way

    refusal = link_resume.registration_refusal(form.username.data or "") if valid else None
    if refusal:  # a domain-locked invite link: no account for an address outside its domains
        form.username.errors = [refusal]
        valid = False
    if not valid:
        form.password.data = ""
        return _page("register", status=422, block="register_form", register_form=form, org=org)
    password_hash = hash_password(form.password.data)

    invited = invite_session.has_pending()
    link = link_session.pending_link()
    email = form.username.data
    verified = bool(invited and form.fixed_email == email)
    try:
        user = auth.register_user(
            form.name.data, email, password_hash, verified=verified, join_default_org=not (invited or link)
        )
    except AccountError as exc:
        db.session.rollback()
        form.username.errors = [str(exc)]
        form.password.data = ""
        return _page("register", status=422, block="register_form", register_form=form, org=org)
    # spec §1.2.1: a confirmation email that does not block sign-in (a domain-locked invite link sends
    # its own, which confirms the address too)
    if not verified and not (link is not None and link.allowed_domains):
        from onboarding.selfservice.service import send_confirmation

        send_confirmation(user, is_new_user=True)
    sign_in(user)
    invite_session.registration_used()  # an invite grants one registration
    audit.record("user.register", organization_id=_audit_org_id(org), actor=user, ip_address=client_ip())
    via_link = link_resume.resume_link(user, ip=client_ip()) if link is not None else None
    target = via_link or after_sign_in(user)
    db.session.commit()
    return see_other(target)


@bp.route("/logout/", methods=["POST"])
def logout() -> Response:
    EmptyForm()  # CSRF is checked for every POST by CSRFProtect
    target = safe_path(request.args.get("next") or request.form.get("next"))
    # "Sign out and continue" on an invite sent to another address keeps that invite (and its one
    # registration) for whoever signs in or registers next.
    kept_invite = invite_session.kept_through_sign_out(target)
    sign_out(current_user if current_user.is_authenticated else None)
    db.session.commit()
    invite_session.restore(kept_invite)
    if target:
        initiate_login(target)
    else:
        flash("You have signed out.", "success")
    return see_other(url_for("auth.login"))
