"""``/organizations/<slug>/settings/webhooks/``: owners add, list, test and remove endpoints and read
each endpoint's recent deliveries. Others get 403 (non-members 404, as everywhere)."""

from __future__ import annotations

from flask import abort, flash, g, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.orgs.access import org_required
from onboarding.web.client import client_ip
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import render, see_other
from onboarding.webhooks import bp
from onboarding.webhooks import service as webhooks
from onboarding.webhooks.events import EVENTS
from onboarding.webhooks.forms import WebhookForm
from onboarding.webhooks.models import WebhookEndpoint

LIST = "webhooks/list.html"
DETAIL = "webhooks/detail.html"
PERMISSION = "org:admin"  # owners


def _list_page(
    form: WebhookForm, *, status: int = 200, new_secret: str | None = None, new_id: int | None = None
) -> Response:
    resp = render(
        LIST,
        block="webhooks_body",
        status=status,
        org=g.org,
        form=form,
        endpoints=webhooks.endpoints_for(g.org),
        events=EVENTS,
        new_secret=new_secret,
        new_id=new_id,
    )
    resp.headers["Cache-Control"] = "no-store"  # the secret is in the answer once
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


def _endpoint_or_404(endpoint_id: int) -> WebhookEndpoint:
    endpoint = webhooks.get_endpoint(g.org, endpoint_id)
    if endpoint is None:
        abort(404)
    return endpoint


def _detail_url(endpoint: WebhookEndpoint) -> str:
    return url_for("webhooks.detail", org_slug=g.org.slug, endpoint_id=endpoint.id)


@bp.get("/<org_slug>/settings/webhooks/")
@org_required(PERMISSION)
def endpoints(org_slug: str) -> Response:
    return _list_page(WebhookForm(formdata=None))


@bp.post("/<org_slug>/settings/webhooks/")
@org_required(PERMISSION)
def create(org_slug: str) -> Response:
    form = WebhookForm()
    if form.validate():
        try:
            endpoint, secret = webhooks.create_endpoint(
                g.org, form.url.data or "", form.events.data or [], current_user, ip=client_ip()
            )
        except webhooks.WebhookError as exc:
            db.session.rollback()
            getattr(form, exc.field or "url").errors = [exc.message]
        else:
            db.session.commit()
            # The secret is in this answer only: not redirected, not flashed (the cookie session is readable).
            return _list_page(WebhookForm(formdata=None), status=201, new_secret=secret, new_id=endpoint.id)
    return _list_page(form, status=422)


@bp.get("/<org_slug>/settings/webhooks/<int:endpoint_id>/")
@org_required(PERMISSION)
def detail(org_slug: str, endpoint_id: int) -> Response:
    endpoint = _endpoint_or_404(endpoint_id)
    return render(
        DETAIL,
        block="deliveries",
        org=g.org,
        endpoint=endpoint,
        deliveries=webhooks.recent_deliveries(endpoint),
        events=EVENTS,
    )


@bp.post("/<org_slug>/settings/webhooks/<int:endpoint_id>/test/")
@org_required(PERMISSION)
def test(org_slug: str, endpoint_id: int) -> Response:
    EmptyForm()  # CSRF is checked for every POST by CSRFProtect
    endpoint = _endpoint_or_404(endpoint_id)
    webhooks.send_test(endpoint)
    db.session.commit()
    flash("A test event is on its way; its delivery appears below.", "success")
    return see_other(_detail_url(endpoint))


@bp.post("/<org_slug>/settings/webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/redeliver/")
@org_required(PERMISSION)
def redeliver(org_slug: str, endpoint_id: int, delivery_id: int) -> Response:
    endpoint = _endpoint_or_404(endpoint_id)
    if webhooks.redeliver(endpoint, delivery_id) is None:
        abort(404)
    db.session.commit()
    flash("The event is being sent again, with the same webhook-id.", "success")
    return see_other(_detail_url(endpoint))


@bp.post("/<org_slug>/settings/webhooks/<int:endpoint_id>/enable/")
@org_required(PERMISSION)
def enable(org_slug: str, endpoint_id: int) -> Response:
    endpoint = _endpoint_or_404(endpoint_id)
    webhooks.enable(endpoint, current_user, ip=client_ip())
    db.session.commit()
    flash("The endpoint is on again.", "success")
    return see_other(_detail_url(endpoint))


@bp.post("/<org_slug>/settings/webhooks/<int:endpoint_id>/delete/")
@org_required(PERMISSION)
def delete(org_slug: str, endpoint_id: int) -> Response:
    endpoint = _endpoint_or_404(endpoint_id)
    url = endpoint.url
    webhooks.delete_endpoint(endpoint, current_user, ip=client_ip())
    db.session.commit()
    flash(f"Removed the endpoint {url}.", "success")
    return see_other(url_for("webhooks.endpoints", org_slug=g.org.slug))
