"""Invite tokens stay out of Referer headers, URLs that get logged, and log lines; resend obeys the limits.

SECURITY.md: "tokens never appear in logs — access logs and captured error events show /accept/<id>/…/
with the token masked; token pages send Referrer-Policy: no-referrer". Every answer to a token URL
counts: error pages, 405s, CSRF failures and redirects too, not only the pages the invite views render.
"""

from __future__ import annotations

import logging

import pytest

from onboarding import ratelimit
from onboarding.invites import service
from onboarding.orgs.models import OrganizationMember
from onboarding.web.logmask import GunicornLogger, mask
from tests.factories import login, make_invite, make_member, make_org, make_user

INVALID = "The invite link you followed is not valid, or has expired."


@pytest.fixture
def org(app):
    return make_org("Acme", slug="acme")


def path(member, raw):
    return f"/accept/{member.id}/{raw}/"


def test_no_referrer_on_every_answer_to_a_token_url(client, org):
    member, raw = make_invite(org, "me@example.com")
    make_user("me@example.com")
    answers = {
        "405": client.put(path(member, raw)),
        "405 api": client.delete(f"/api/0/accept-invite/{member.id}/{raw}/"),
        "renew of a live link (redirect)": client.post(path(member, raw) + "renew/"),
        "renew GET (405)": client.get(path(member, raw) + "renew/"),
    }
    login(client, "me@example.com")
    answers["accept (303 into the organization)"] = client.post(path(member, raw))
    for what, resp in answers.items():
        assert resp.headers.get("Referrer-Policy") == "no-referrer", what
    assert answers["accept (303 into the organization)"].status_code == 303
    # Other pages keep the site-wide policy.
    assert client.get("/organizations/acme/").headers["Referrer-Policy"] == "strict-origin-when-cross-origin"


@pytest.mark.parametrize("settings", [{"WTF_CSRF_ENABLED": True}])
def test_csrf_failure_on_the_accept_page_sends_no_referrer(client, org, settings):
    del settings
    member, raw = make_invite(org)
    resp = client.post(path(member, raw), data={})
    assert resp.status_code == 400
    assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert db_member(member).user_id is None


def db_member(member):
    from onboarding.extensions import db

    db.session.expire_all()
    return db.session.get(OrganizationMember, member.id)


def test_renew_of_a_bad_link_is_the_same_friendly_page(client, org):
    member, raw = make_invite(org)
    for bad in (f"/accept/{member.id}/{raw}x/renew/", f"/accept/999999/{raw}/renew/", "/accept/x/y/renew/"):
        resp = client.post(bad)
        assert resp.status_code == 404, bad
        assert INVALID in resp.get_data(as_text=True), bad
        assert resp.headers["Referrer-Policy"] == "no-referrer"


def test_switching_account_keeps_the_token_out_of_the_url(client, org):
    member, raw = make_invite(org, "invited@example.com")
    make_user("other@example.com")
    login(client, "other@example.com")
    page = client.get(path(member, raw)).get_data(as_text=True)
    form = page[page.index('id="switch-account-form"') :]
    form = form[: form.index("</form>")]
    assert 'action="/auth/logout/"' in form
    assert f'name="next" value="{path(member, raw)}"' in form
    # Signing out with the path in the body comes back to the invite after signing in again.
    assert client.post("/auth/logout/", data={"next": path(member, raw)}).status_code == 303
    make_user("invited@example.com")
    assert login(client, "invited@example.com").headers["Location"] == "/organizations/acme/"


def test_access_log_line_masks_the_token(org):
    """What ``onboarding serve``'s gunicorn access logger writes for an accept request."""
    from types import SimpleNamespace

    from gunicorn.config import Config

    member, raw = make_invite(org)
    target = path(member, raw)
    cfg = Config()
    cfg.set("accesslog", "-")
    cfg.set("access_log_format", '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(L)ss "%(r)s" "%(f)s"')
    logger = GunicornLogger(cfg)
    environ = {
        "REQUEST_METHOD": "POST",
        "RAW_URI": target,
        "PATH_INFO": target,
        "QUERY_STRING": "",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": f"http://onboarding.test{target}",
    }
    req = SimpleNamespace(headers=[], method="POST", path=target, query="", version=(1, 1), uri=target)
    resp = SimpleNamespace(status="303 SEE OTHER", response_length=0, sent=0, headers=[])
    from datetime import timedelta

    atoms = logger.atoms(resp, req, environ, timedelta(milliseconds=5))
    line = logger.cfg.access_log_format % atoms
    assert f"/accept/{member.id}/…/" in line
    assert raw not in line


def test_application_log_lines_mask_the_token(app, org, caplog):
    from onboarding.web.logmask import TokenMaskFilter

    member, raw = make_invite(org)
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "Unhandled error on %s %s", ("GET", path(member, raw)), None
    )
    TokenMaskFilter().filter(record)
    assert record.getMessage() == f"Unhandled error on GET /accept/{member.id}/…/"
    assert mask(f"/api/0/accept-invite/{member.id}/{raw}/") == f"/api/0/accept-invite/{member.id}/…/"
    assert mask(f"/accept/{member.id}/{raw}/renew/") == f"/accept/{member.id}/…/renew/"


def _manager(client, org):
    user = make_user("mgr@example.com", name="Manager")
    make_member(org, user, role="manager")
    login(client, "mgr@example.com")
    return user


def test_resend_counts_against_the_daily_limits(client, org):
    _manager(client, org)
    member, _ = make_invite(org, "flood@example.com")
    subject = f"{org.id}:flood@example.com"
    for _ in range(service.LIMIT_PER_EMAIL.limit - 1):
        ratelimit.hit(service.LIMIT_PER_EMAIL, subject)
    resend = f"/organizations/acme/members/{member.id}/resend/"
    assert client.post(resend).status_code == 303  # the tenth invite email to this address today
    before = db_member(member).token_hash
    resp = client.post(resend, follow_redirects=True)
    assert "Too many invites were sent today; flood@example.com was not sent another." in resp.get_data(
        as_text=True
    )
    assert db_member(member).token_hash == before  # no new token, no email
    api = client.put(f"/api/0/organizations/acme/members/{member.id}/", json={"reinvite": True})
    assert api.status_code == 429
    assert "Too many invites" in api.get_json()["detail"]


def _dump() -> str:
    """Every row of every table, as text: what a database dump would hold."""
    from onboarding.extensions import db

    db.session.rollback()
    return "\n".join(repr(db.session.execute(t.select()).all()) for t in db.metadata.sorted_tables)


@pytest.mark.parametrize("settings", [{"JOBS_SYNC": False, "REDIS_URL": "redis://127.0.0.1:1/0"}])
def test_a_waiting_invite_email_leaves_no_raw_token_in_the_database(app, client, org, settings, redis_url):
    """Redis is down, so the invite email waits in the outbox; a dump taken then holds no usable link."""
    from onboarding.outbox import service as outbox
    from onboarding.outbox.models import OutboxMessage
    from tests.factories import link_in, sent_mail

    del settings
    _manager(client, org)
    resp = client.post("/organizations/acme/members/", data={"emails": "later@example.com", "role": "member"})
    assert resp.status_code == 303
    dump = _dump()
    assert "later@example.com" in dump  # the invite row itself
    from onboarding.extensions import db

    waiting = db.session.scalars(select_email_messages(OutboxMessage)).all()
    # Sealed, plus the invite's id in clear so the delivery can be shown on its row; no token.
    assert len(waiting) == 1 and set(waiting[0].payload) == {"sealed", "ref"}
    assert waiting[0].payload["ref"] == {
        "invite_member_id": int(waiting[0].payload["ref"]["invite_member_id"])
    }
    assert "/accept/" not in dump

    # Redis is back: the sweep delivers the email, whose link works.
    app.config.update(REDIS_URL=redis_url, JOBS_SYNC=True)
    outbox.drain_due()
    link = link_in(sent_mail(app)[-1])
    raw = link.rstrip("/").rsplit("/", 1)[1]
    assert raw not in dump
    client.post("/auth/logout/")
    assert client.get(link.replace("http://onboarding.test", "")).status_code == 200


def select_email_messages(model):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return select(model).where(model.category == "email")


def test_mail_queued_before_sealing_is_still_delivered(app, org):
    """Rows written by an older version (plain payloads) still go out after an upgrade."""
    from onboarding.database import write_intent
    from onboarding.extensions import db
    from onboarding.outbox import service as outbox
    from tests.factories import sent_mail

    with write_intent(True):
        outbox.schedule("email", {"to": "old@example.com", "subject": "Old", "text": "plain", "html": None})
        db.session.commit()
    outbox.drain_due()
    assert [m["To"] for m in sent_mail(app)] == ["old@example.com"]


def test_mail_sealed_with_another_key_fails_with_a_clear_error(app, org):
    from onboarding.database import write_intent
    from onboarding.extensions import db
    from onboarding.outbox import mail
    from onboarding.outbox.models import OutboxMessage

    with write_intent(True):
        mail.schedule_email("k@example.com", "Hi", "text", None)
        app.config["SECRET_KEY"] = "rotated"  # before the delivery that runs once this commits
        db.session.commit()
    db.session.rollback()
    message = db.session.scalar(select_email_messages(OutboxMessage))
    assert message.attempts == 1
    assert "sealed with another secret key" in message.last_error


def test_inviting_an_address_invited_a_moment_ago_is_a_clear_answer(client, org, monkeypatch):
    """Two managers invite the same address at once: the second check passed before the first committed."""
    _manager(client, org)
    make_invite(org, "twice@example.com")
    from onboarding.invites import sending

    monkeypatch.setattr(sending, "existing_for_email", lambda *_a: None)  # the check saw nothing yet
    resp = client.post(
        "/organizations/acme/members/",
        data={"emails": "twice@example.com\nonce@example.com", "role": "member"},
    )
    assert resp.status_code == 200  # one of two invited: a success listing both outcomes
    body = resp.get_data(as_text=True)
    assert "twice@example.com has already been invited." in body
    assert "Invited once@example.com." in body  # the rest of the batch still goes out
    from onboarding.extensions import db

    db.session.rollback()
    emails = set(db.session.scalars(select_email_of_pending(org)))
    assert emails == {"twice@example.com", "once@example.com"}


def select_email_of_pending(org):  # type: ignore[no-untyped-def]
    from sqlalchemy import select

    return select(OrganizationMember.email).where(
        OrganizationMember.organization_id == org.id, OrganizationMember.user_id.is_(None)
    )
