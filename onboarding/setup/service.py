"""The one-time setup link that lets the first visitor create the first superuser."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.setup.models import SystemOption

KEY = "setup_token_sha256"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def needs_setup() -> bool:
    return orgs.count_superusers() == 0


def issue_token() -> str:
    """A new setup token (replacing any earlier one); only its hash is stored."""
    token = secrets.token_urlsafe(32)
    option = db.session.get(SystemOption, KEY)
    if option is None:
        db.session.add(SystemOption(key=KEY, value=_digest(token)))
    else:
        option.value = _digest(token)
    return token


def token_valid(token: str) -> bool:
    if not needs_setup():
        return False
    option = db.session.get(SystemOption, KEY)
    return bool(option and option.value and hmac.compare_digest(str(option.value), _digest(token)))


def complete(
    token: str, *, name: str, email: str, password: str, org_name: str | None, ip: str | None = None
) -> User:
    """Create the first superuser (owner of the default organization); the token stops working.

    Audited in the same transaction: ``member.add`` (``via: setup``) in the organization, and
    ``org.edit`` when the organization was renamed."""
    # Lock the token row (PostgreSQL; SQLite's IMMEDIATE write transaction already serialises) so
    # that two simultaneous submissions cannot both create a first superuser.
    locked = db.session.get(SystemOption, KEY, with_for_update=True)
    if locked is None or not token_valid(token):
        raise accounts.AccountError("This setup link is not valid any more.")
    user = accounts.create_user(
        email, name=name, password=password, is_superuser=True, is_staff=True, verified=True
    )
    org = orgs.ensure_default_organization()
    if org is not None:
        if org_name and org_name.strip() and org_name.strip() != org.name:
            old_name, org.name = org.name, org_name.strip()
            if orgs.slugify(org.name) != org.slug:  # named now: its address follows the name
                org.slug = orgs.unique_slug(org.name)
            audit.record(
                "org.edit",
                organization_id=org.id,
                actor=user,
                target_object=org.id,
                ip_address=ip,
                data={"name": org.name, "old_name": old_name, "slug": org.slug, "via": "setup"},
            )
        member = orgs.add_member(org, user, role=roles.TOP_ROLE)
        audit.record(
            "member.add",
            organization_id=org.id,
            actor=user,
            target_object=member.id,
            target_user_id=user.id,
            ip_address=ip,
            data={"email": user.email, "role": member.role, "via": "setup"},
        )
    db.session.delete(locked)
    return user
