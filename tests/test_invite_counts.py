"""The members page counts invites right after the action, not only after the buffer's next flush."""

from __future__ import annotations

from onboarding import buffer
from onboarding.invites import service as invites
from tests.factories import default_org, login, make_member, make_user


def test_invites_sent_counts_at_once_before_the_flush(client, monkeypatch):
    flushed: list[bool] = []
    monkeypatch.setattr(buffer, "_schedule_flush", lambda: flushed.append(True))  # no flush happens
    org = default_org()
    owner = make_user("owner@example.com")
    make_member(org, owner, "owner")
    login(client, owner.email)
    resp = client.post(
        f"/organizations/{org.slug}/members/",
        data={"emails": "a@example.com, b@example.com", "role": "member"},
    )
    assert resp.status_code in (200, 303)
    assert flushed  # the counts are still only in Redis
    page = client.get(f"/organizations/{org.slug}/members/").get_data(as_text=True)
    assert "Invites sent: 2" in page
    counts = invites.stats(org)
    assert counts is not None and (counts.invites_sent, counts.invites_accepted) == (2, 0)
    buffer.flush()
    counts = invites.stats(org)
    assert counts is not None and counts.invites_sent == 2  # flushed: counted once, not twice
