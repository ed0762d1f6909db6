"""Every state-changing API operation declares the write scope it needs, and a read-only token changes
nothing anywhere (issue 11, point 11: an org:read token could accept an invite and change the avatar)."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from onboarding.api.openapi import REGISTRY
from onboarding.extensions import db
from onboarding.tokens import service as tokens
from tests.factories import make_invite, make_member, make_org, make_team, make_user

UNSAFE = ("POST", "PUT", "PATCH", "DELETE")
READ_ONLY = ["org:read", "member:read"]


def _unsafe_api_rules(app):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/0/"):
            for method in sorted(set(rule.methods or ()) & set(UNSAFE)):
                yield method, rule.rule


def test_every_state_changing_operation_declares_a_write_scope(app):
    found = list(_unsafe_api_rules(app))
    assert len(found) >= 10
    for method, rule in found:
        op = REGISTRY.get((method, rule))
        assert op is not None, f"{method} {rule} is not registered"
        assert op.scopes, f"{method} {rule} declares no scope: a read-only token could use it"
        assert not any(s.endswith(":read") for s in op.scopes), f"{method} {rule} needs only {op.scopes}"


def test_a_read_only_token_is_refused_everywhere_and_changes_nothing(app):
    owner = make_user("owner@example.com")
    org = make_org("Acme", slug="acme")
    make_member(org, owner, role="owner")
    team = make_team(org)
    invite, raw_invite = make_invite(org, "owner@example.com")
    token, raw = tokens.create_token(owner, "read only", READ_ONLY)
    db.session.commit()
    values = {
        "org_slug": org.slug,
        "slug": org.slug,
        "member_id": str(invite.id),
        "token": raw_invite,
        "token_id": str(token.id),
        "user_ref": "me",
        "team_slug": team.slug,
    }

    def rows() -> dict[str, int]:
        db.session.rollback()
        return {
            t.name: db.session.scalar(select(func.count()).select_from(t)) or 0
            for t in db.metadata.sorted_tables
            if t.name not in ("api_token", "outbox_message", "outbox_receipt")
        }

    before = rows()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {raw}"}
    tried = 0
    for method, rule in _unsafe_api_rules(app):
        path = re.sub(r"<(?:\w+:)?(\w+)>", lambda m: values.get(m.group(1), "1"), rule)
        resp = client.open(path, method=method, json={"reinvite": True, "name": "x"}, headers=headers)
        assert resp.status_code == 403, (method, path, resp.status_code, resp.get_data(as_text=True))
        assert "lacks the scope" in resp.get_data(as_text=True)
        tried += 1
    assert tried >= 10
    assert rows() == before
