"""An organization's OpenID Connect provider and the identities it asserts. Nothing here commits.

An identity is keyed by (provider, subject) — never by email alone. Each organization has its own
provider row, so an identity linked through one organization's provider means nothing to another.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from onboarding import secretbox  # noqa: E402
from onboarding.accounts import service as accounts
from onboarding.accounts.models import User
from onboarding.audit import service as audit
from onboarding.extensions import db, utcnow
from onboarding.orgs import roles
from onboarding.orgs import service as orgs
from onboarding.orgs.models import AuthIdentity, AuthProvider, Organization, OrgFlags
from onboarding.sso import oidc

CLIENT_SECRET_PURPOSE = "sso client secret"
HAS_2FA_REQUIRED = (
    "Single sign-on cannot be set up while the organization requires two-factor authentication; "
    "the identity provider enforces its own sign-in policy."
)


class SSOError(Exception):
    """Refused; the message is meant for the person."""


def display_name(provider: AuthProvider) -> str:
    return str(provider.config.get("name") or "your identity provider")


def allows_jit(provider: AuthProvider) -> bool:
    return bool(provider.config.get("allow_jit"))


def configure(
    org: Organization,
    *,
    name: str,
    issuer: str,
    client_id: str,
    client_secret: str | None,
    required: bool,
    default_role: str,
    allow_jit: bool,
    actor: User,
    ip: str | None,
    timeout: float,
) -> AuthProvider:
    """Create or update the organization's provider after reading the issuer's discovery document.

    An empty ``client_secret`` keeps the stored one (the secret is never shown again).
    Raises :class:`SSOError` (or :class:`oidc.OIDCError`) with a message for the form.
    """
    if org.has_flag(OrgFlags.REQUIRE_2FA):
        raise SSOError(HAS_2FA_REQUIRED)
    if not roles.is_valid(default_role):
        raise SSOError("Invalid role")
    provider = orgs.auth_provider_for(org)
    secret = client_secret or (provider.config.get("client_secret") if provider is not None else None)
    if not secret:
        raise SSOError("Enter the client secret.")
    metadata = oidc.discover(issuer, timeout)
    config: dict[str, Any] = {
        "name": name.strip() or "Single Sign-On",
        "issuer": metadata["issuer"],
        "client_id": client_id.strip(),
        # Encrypted at rest; a secret kept from before is sealed already.
        "client_secret": secret
        if client_secret is None and secret.startswith(secretbox.PREFIX)
        else secretbox.seal(secret, CLIENT_SECRET_PURPOSE),
        "allow_jit": allow_jit,
        "metadata": metadata,
    }
    created = provider is None
    if provider is None:
        provider = AuthProvider(organization_id=org.id, provider="oidc")
        db.session.add(provider)
    elif provider.config.get("issuer") != config["issuer"]:
        # Another issuer asserts other subjects: identities from the old one mean nothing now.
        for identity in db.session.scalars(
            select(AuthIdentity).where(AuthIdentity.auth_provider_id == provider.id)
        ):
            db.session.delete(identity)
    provider.config = config
    provider.default_role = default_role
    provider.flags = 0 if required else AuthProvider.ALLOW_UNLINKED
    db.session.flush()
    audit.record(
        "sso.enable" if created else "sso.edit",
        organization_id=org.id,
        actor=actor,
        target_object=provider.id,
        ip_address=ip,
        data={
            "issuer": config["issuer"],
            "client_id": config["client_id"],
            "required": required,
            "default_role": default_role,
            "allow_jit": allow_jit,
        },
    )
    return provider


def disable(org: Organization, *, actor: User, ip: str | None) -> bool:
    provider = orgs.auth_provider_for(org)
    if provider is None:
        return False
    audit.record("sso.disable", organization_id=org.id, actor=actor, target_object=provider.id, ip_address=ip)
    db.session.delete(provider)
    db.session.flush()
    return True


def find_identity(provider: AuthProvider, subject: str) -> AuthIdentity | None:
    return db.session.scalar(
        select(AuthIdentity).where(
            AuthIdentity.auth_provider_id == provider.id, AuthIdentity.ident == subject
        )
    )


def identity_of(provider: AuthProvider, user: User) -> AuthIdentity | None:
    return db.session.scalar(
        select(AuthIdentity).where(
            AuthIdentity.auth_provider_id == provider.id, AuthIdentity.user_id == user.id
        )
    )


def link(provider: AuthProvider, user: User, ident: oidc.Identity) -> AuthIdentity:
    """Attach (provider, subject) to ``user``; raises :class:`SSOError` if either side is taken."""
    existing = find_identity(provider, ident.subject)
    if existing is not None:
        if existing.user_id != user.id:
            raise SSOError("This identity is already linked to another account.")
        return existing
    if identity_of(provider, user) is not None:
        raise SSOError(
            f"Your account is already linked to another {display_name(provider)} identity. "
            "Sign in with that one."
        )
    identity = AuthIdentity(
        user_id=user.id, auth_provider_id=provider.id, ident=ident.subject, data=ident.claims
    )
    db.session.add(identity)
    db.session.flush()
    return identity


def touch(identity: AuthIdentity, ident: oidc.Identity) -> None:
    identity.last_verified = utcnow()
    identity.data = ident.claims


def create_user_for_identity(ident: oidc.Identity) -> User:
    """A new account for an identity: no password, the email verified (the provider verified it).

    No membership: the caller joins it to the organization through an invite or just in time.
    """
    return accounts.create_user(ident.email, name=ident.name, verified=True)
