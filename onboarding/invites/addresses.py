"""Whose address is it: the user's addresses, and alias-aware matching of invited addresses.

Two different questions, kept apart on purpose:

- :func:`email_matches` — may this *user* act on an invite to this address? Only the exact address,
  as the account's primary email or a verified additional one (the invite belongs to its address).
- :func:`match_key` — are two typed addresses the same *mailbox* for duplicates and daily limits?
  Case, a ``+tag`` and, for gmail.com / googlemail.com (one domain), dots are ignored. The address as
  typed is what is stored and mailed; the key is only compared.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from onboarding.accounts.models import User, UserEmail
from onboarding.accounts.service import normalize_email
from onboarding.extensions import db
from onboarding.orgs.models import Organization, OrganizationMember

# Domains whose mailboxes ignore dots in the local part, and the name they share.
DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}


def match_key(email: str) -> str:
    """The mailbox an address reaches: lower-cased, without ``+tag``, without dots for Gmail.

    >>> match_key("Bob.Smith+x@Example.com")
    'bob.smith@example.com'
    >>> match_key("b.o.b+1@googlemail.com")
    'bob@gmail.com'
    """
    email = normalize_email(email)
    local, at, domain = email.rpartition("@")
    if not at:
        return email
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        domain = DOTLESS_DOMAINS[domain]
        local = local.replace(".", "")
    return f"{local}@{domain}"


def _same_domain(column: object, email: str) -> object:
    """A coarse SQL filter (same domain, or both Gmail) before keys are compared in Python."""
    domain = normalize_email(email).rpartition("@")[2]
    names = [d for d, shared in DOTLESS_DOMAINS.items() if shared == DOTLESS_DOMAINS.get(domain)] or [domain]
    return or_(*(column.like(f"%@{name}") for name in names))  # type: ignore[attr-defined]


def existing_for_email(org: Organization, email: str) -> tuple[str, OrganizationMember] | None:
    """Who in ``org`` already has this mailbox: ``("member", row)``, ``("invited", row)`` or
    ``("requested", row)`` (an invite or join request waiting for approval); None when nobody."""
    key = match_key(email)
    members = db.session.execute(
        select(OrganizationMember, User.email)
        .join(User, User.id == OrganizationMember.user_id)
        .where(OrganizationMember.organization_id == org.id, _same_domain(User.email, email))  # type: ignore[arg-type]
    ).all()
    for member, address in members:
        if match_key(address) == key:
            return "member", member
    pending = db.session.scalars(
        select(OrganizationMember)
        .where(
            OrganizationMember.organization_id == org.id,
            OrganizationMember.user_id.is_(None),
            _same_domain(OrganizationMember.email, email),  # type: ignore[arg-type]
        )
        .order_by(OrganizationMember.id)
    ).all()
    for row in pending:
        if row.email and match_key(row.email) == key:
            return ("invited" if row.invite_approved else "requested"), row
    return None


def addresses_of(user: User) -> list[str]:
    """The user's addresses an invite may be sent to: the primary email and verified additional ones."""
    verified = db.session.scalars(
        select(UserEmail.email).where(UserEmail.user_id == user.id, UserEmail.is_verified.is_(True))
    )
    primary = normalize_email(user.email)
    return [primary, *(e for e in (normalize_email(v) for v in verified) if e != primary)]


def email_matches(user: User, invited: str | None) -> bool:
    """The invite belongs to its address: the user's primary email, or a verified one of theirs."""
    if not invited:
        return False
    invited = normalize_email(invited)
    if normalize_email(user.email) == invited:
        return True
    return (
        db.session.scalar(
            select(UserEmail.id).where(
                UserEmail.user_id == user.id, UserEmail.email == invited, UserEmail.is_verified.is_(True)
            )
        )
        is not None
    )
