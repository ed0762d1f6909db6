"""Small builders for test data: each makes one thing and commits it."""

from __future__ import annotations

import itertools

from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.extensions import db
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthProvider, Organization, OrganizationMember, Team

PASSWORD = "correct horse battery staple"
_seq = itertools.count(1)


def make_user(
    email: str | None = None,
    *,
    password: str | None = PASSWORD,
    name: str = "Test User",
    superuser: bool = False,
    active: bool = True,
) -> User:
    user = accounts.create_user(
        email or f"user{next(_seq)}@example.com", name=name, password=password, is_superuser=superuser
    )
    user.is_active_flag = active
    db.session.commit()
    return user


def make_org(name: str | None = None, *, slug: str | None = None) -> Organization:
    org = orgs.create_organization(name or f"Org {next(_seq)}", slug=slug)
    db.session.commit()
    return org


def default_org() -> Organization:
    org = orgs.default_organization()
    assert org is not None
    return org


def make_member(org: Organization, user: User, role: str = "member") -> OrganizationMember:
    member = orgs.add_member(org, user, role=role)
    db.session.commit()
    return member


def make_team(org: Organization, name: str = "Core") -> Team:
    team = Team(organization_id=org.id, name=name, slug=orgs.slugify(name))
    db.session.add(team)
    db.session.commit()
    return team


def make_provider(org: Organization, *, required: bool = True) -> AuthProvider:
    provider = AuthProvider(
        organization_id=org.id,
        provider="oidc",
        config={},
        flags=0 if required else AuthProvider.ALLOW_UNLINKED,
    )
    db.session.add(provider)
    db.session.commit()
    return provider


def login(client, email: str, password: str = PASSWORD, **kw):  # type: ignore[no-untyped-def]
    return client.post("/auth/login/", data={"op": "login", "username": email, "password": password}, **kw)


def make_invite(
    org,
    email: str = "invitee@example.com",
    *,
    role: str = "member",
    inviter=None,
    expired: bool = False,
    status: int = 0,
):  # type: ignore[no-untyped-def]
    """A pending invite and its raw token (as only the email would carry it)."""
    from datetime import timedelta

    from onboarding.extensions import utcnow
    from onboarding.invites import tokens

    raw, digest = tokens.new_token()
    member = OrganizationMember(
        organization_id=org.id,
        email=email,
        role=role,
        inviter_id=inviter.id if inviter else None,
        token_hash=digest if status == 0 else None,
        invite_status=status,
        token_expires_at=utcnow() + (timedelta(seconds=-5) if expired else timedelta(days=7)),
    )
    db.session.add(member)
    db.session.commit()
    return member, raw


def sent_mail(app) -> list:  # type: ignore[no-untyped-def]
    """Messages written by the file:// mail transport, oldest first."""
    import email
    import email.policy
    from pathlib import Path
    from urllib.parse import urlsplit

    folder = Path(urlsplit(app.config["MAIL_URL"]).path)
    if not folder.exists():
        return []
    return [
        email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        for p in sorted(folder.glob("*.eml"))
    ]


def link_in(message) -> str:  # type: ignore[no-untyped-def]
    import re

    body = message.get_body(("plain",)).get_content()
    return re.search(r"https?://\S+/accept/\d+/[A-Za-z0-9_-]+/", body).group(0)


def comparable(resp, *, replace: str = "") -> str:  # type: ignore[no-untyped-def]
    """A page's HTML for comparing two answers: CSRF tokens (signed with the current second) blanked,
    and ``replace`` (e.g. the address typed back into a field) made neutral."""
    import re

    html = resp.get_data(as_text=True)
    if replace:
        html = html.replace(replace, "E")
    return re.sub(r"[\w-]+\.[\w-]{6}\.[\w-]{27}", "CSRF", html)
