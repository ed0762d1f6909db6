"""After registering through a link kept in the session: join at once (or file the request, or email
the address proof), with the same messages as the landing page."""

from __future__ import annotations

from flask import flash, session, url_for

from onboarding.accounts.models import User
from onboarding.invitelinks import service as links
from onboarding.invitelinks import session as link_session
from onboarding.invitelinks.service import Joined


def registration_refusal(email: str) -> str | None:
    """Registering through a domain-locked link: the refusal for an address outside its domains (no
    account is created), else None."""
    link = link_session.pending_link()
    if link is None or link.domain_allowed(email):
        return None
    return links.domain_refusal(link)


def resume_link(user: User, *, ip: str | None) -> str | None:
    """Join through the link kept in the session; where to go next, or None when no link is kept."""
    link = link_session.pending_link()
    if link is None:
        link_session.forget()
        return None
    result = links.join(link, user, ip=ip)
    link_session.forget()
    org = result.organization
    if org is None or result.outcome is Joined.INVALID:
        return None
    if result.outcome in (Joined.JOINED, Joined.ALREADY_MEMBER):
        session["activeorg"] = org.slug
        session.pop("_next", None)
        flash(f"You have been added to the {org.name} organization.", "success")
        return url_for("orgs.home", org_slug=org.slug)
    if result.outcome is Joined.CONFIRM_SENT:
        flash(f"We sent a confirmation link to {result.email}. Open it to join {org.name}.", "info")
    elif result.outcome in (Joined.REQUESTED, Joined.ALREADY_REQUESTED):
        flash(f"Your request to join {org.name} waits for a manager's approval. We will email you.", "info")
    else:
        flash(links.domain_refusal(link), "error")
    session.pop("_next", None)
    return None
