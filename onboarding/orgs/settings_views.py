"""``/organizations/<slug>/settings/``: details, options and trusted relays (owners only)."""

from __future__ import annotations

import contextlib
from typing import Any

from flask import flash, g, request, url_for
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from werkzeug.wrappers import Response

from onboarding.audit import service as audit
from onboarding.avatars.panel import panel
from onboarding.extensions import db
from onboarding.orgs import bp, relays, roles
from onboarding.orgs import settings as org_settings
from onboarding.orgs.access import org_required
from onboarding.web.client import client_ip
from onboarding.web.htmx import render, see_other

RELAY_FIELDS = ("name", "publicKey", "description")
MAX_RELAY_ROWS = 100
CHECKBOXES = ("openMembership", "allowMemberInvite", "allowJoinRequests", "require2FA")


def _relay_rows_from_form() -> list[dict[str, str]]:
    try:
        count = min(int(request.form.get("relay_count", "0")), MAX_RELAY_ROWS)
    except ValueError:
        count = 0
    return [
        {f: (request.form.get(f"relay-{i}-{f}") or "").strip() for f in RELAY_FIELDS}
        for i in range(max(count, 0))
    ]


def _page(
    org: Any,
    values: dict[str, Any],
    rows: list[dict[str, str]],
    errors: dict[str, list[str]],
    status: int,
    block: str | None = "form",
) -> Response:
    action = url_for("orgs.settings", org_slug=org.slug)
    return render(
        "orgs/settings.html",
        block=block,
        status=status,
        org=org,
        values=values,
        relay_rows=rows,
        errors=errors,
        action=action,
        roles=roles.ROLES,
        panel=panel(
            "organization",
            org.id,
            org.name,
            org.slug,
            action=url_for("avatars.org_avatar", org_slug=org.slug),
        ),
    )


@bp.route("/<org_slug>/settings/", methods=["GET", "POST"])
@org_required("org:write")
def settings(org_slug: str) -> Response:
    org = g.org
    if request.method == "GET":
        rows = [
            {
                "name": r.get("name") or "",
                "publicKey": r.get("public_key") or "",
                "description": r.get("description") or "",
            }
            for r in relays.get_relays(org.id)
        ]
        rows.append(dict.fromkeys(RELAY_FIELDS, ""))  # one blank row: works without JavaScript
        return _page(org, org_settings.current_values(org), rows, {}, 200, block=None)

    form = request.form
    rows = _relay_rows_from_form()
    values: dict[str, Any] = {
        "name": form.get("name", ""),
        "slug": form.get("slug", ""),
        "defaultRole": form.get("defaultRole", org.default_role),
        **{name: name in form for name in CHECKBOXES},
    }
    op = form.get("op", "save")
    if "remove_relay" in form or op in ("add_relay", "remove_relay"):
        # Editing the rows re-renders them; nothing is saved until "Save changes".
        if op == "add_relay" and len(rows) < MAX_RELAY_ROWS:
            rows.append(dict.fromkeys(RELAY_FIELDS, ""))
        else:
            with contextlib.suppress(ValueError, IndexError):
                del rows[int(form.get("remove_relay", "-1"))]
        return _page(org, values, rows, {}, 200, block="relays")

    data = dict(values)
    data["trustedRelays"] = [
        {k: (v or None) for k, v in row.items()} | {"name": row["name"]} for row in rows if any(row.values())
    ]
    can_admin = current_user.is_superuser or roles.has_permission(g.member.role, "org:admin")
    try:
        changes = org_settings.validate(org, data, actor=current_user, can_admin=can_admin)
    except org_settings.SlugConflict as exc:
        return _page(org, values, rows, {"slug": [str(exc)]}, 422)
    if changes.errors:
        return _page(org, values, rows, changes.errors, 422)
    changed, _upload = org_settings.apply(org, changes, actor=current_user, ip=client_ip())
    if changed:
        audit.record(
            "org.edit",
            organization_id=org.id,
            actor=current_user,
            target_object=org.id,
            ip_address=client_ip(),
            data=changed,
        )
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return _page(org, values, rows, {"slug": ["An organization with this slug already exists."]}, 422)
    flash("Organization settings saved." if changed else "Nothing changed.", "success")
    return see_other(url_for("orgs.settings", org_slug=org.slug))
