"""SECURITY.md properties that had no test of their own: htmx's safety settings on every page, user
text escaped on pages, the production password and limit settings, warnings when Redis is down, and
the audit fields of a resend and a sign-in."""

from __future__ import annotations

import json
import logging
import re

from sqlalchemy import select

from onboarding import ratelimit
from onboarding.audit.models import AuditLogEntry
from onboarding.config import DEFAULTS
from onboarding.extensions import db
from tests.factories import default_org, login, make_invite, make_member, make_user

EVIL = '<script>alert("x")</script><img src=x onerror=alert(1)>'


def test_htmx_is_configured_safely_on_every_page(client):
    for path in ("/auth/login/", "/account/recover/", "/nothing-here/"):
        page = client.get(path).get_data(as_text=True)
        found = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", page)
        assert found is not None, path
        config = json.loads(found.group(1))
        assert config["selfRequestsOnly"] is True and config["allowEval"] is False
        assert config["allowScriptTags"] is False


def test_user_text_is_escaped_on_pages(client):
    org = default_org()
    owner = make_user("owner@example.com", name="Owner")
    make_member(org, owner, role="owner")
    make_member(org, make_user("evil@example.com", name=EVIL))
    make_invite(org, "invited@example.com", inviter=make_user("inviter@example.com", name=EVIL))
    login(client, "owner@example.com")
    page = client.get(f"/organizations/{org.slug}/members/").get_data(as_text=True)
    assert EVIL not in page and "<script>alert" not in page
    # The name is shown escaped (beside its avatar), never as markup.
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in page


def test_production_settings_are_the_documented_ones():
    """Argon2id at OWASP's minimum or stronger, and the contract's limits and lifetimes (tests run with
    cheaper hashing, so these defaults are pinned here)."""
    assert DEFAULTS["ARGON2_MEMORY_COST"] >= 19 * 1024 and DEFAULTS["ARGON2_TIME_COST"] >= 2
    assert DEFAULTS["ARGON2_PARALLELISM"] == 1
    assert DEFAULTS["LOGIN_FAILURES_PER_EMAIL"] == 5 and DEFAULTS["LOGIN_FAILURES_PER_IP"] == 50
    assert DEFAULTS["LOGIN_FAILURE_WINDOW"] == 60
    assert DEFAULTS["INVITE_EXPIRY_SECONDS"] == 7 * 24 * 3600


def test_redis_down_is_logged_as_a_warning(app, client, caplog):
    app.config["REDIS_URL"] = "redis://127.0.0.1:1/0"  # nothing listens there
    ratelimit._last_warning = 0.0  # the warning is rate-limited to one a minute per process
    with caplog.at_level(logging.WARNING):
        assert login(client, "nobody@example.com", "wrong").status_code == 422
    assert any(
        r.levelno == logging.WARNING and "Redis unreachable for rate limits" in r.getMessage()
        for r in caplog.records
    )


def test_resend_and_sign_in_are_audited_with_actor_org_time_and_ip(client):
    org = default_org()
    manager = make_user("mgr@example.com")
    make_member(org, manager, role="manager")
    member, _raw = make_invite(org, "late@example.com", expired=True)
    ip = {"REMOTE_ADDR": "198.51.100.4"}
    assert login(client, "mgr@example.com", environ_base=ip).status_code == 303
    resp = client.post(f"/organizations/{org.slug}/members/{member.id}/resend/", environ_base=ip)
    assert resp.status_code == 303
    entries = {e.event: e for e in db.session.scalars(select(AuditLogEntry))}
    signed_in, resent = entries["user.login.success"], entries["member.reinvite"]
    for entry in (signed_in, resent):
        assert entry.actor_id == manager.id and entry.organization_id == org.id
        assert entry.ip_address == "198.51.100.4" and entry.datetime is not None
    assert resent.target_object == member.id and resent.data["email"] == "late@example.com"
    assert not any("token" in key.lower() for key in resent.data)
