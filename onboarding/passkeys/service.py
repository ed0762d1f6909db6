"""Passkey rules: the relying party, the two WebAuthn ceremonies, and a user's list of passkeys.

The ``webauthn`` library does the protocol (CBOR, attestation, signatures, sign counters); this module
decides which challenge, which user and which stored key it checks against. Nothing here reads the
request (views pass the origin the page was served from) or commits (views commit once).
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from flask import current_app, session
from sqlalchemy import func, select, update
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url, generate_user_handle
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from onboarding.accounts.models import User
from onboarding.extensions import db, utcnow
from onboarding.passkeys import challenges
from onboarding.passkeys.models import Passkey

RP_NAME = "Onboarding"
NAME_MAX = 64
TIMEOUT_MS = challenges.TTL_SECONDS * 1000
MAX_CREDENTIAL_JSON = 64 * 1024

NOT_VERIFIED = "The passkey could not be verified. Please try again."
UNKNOWN_PASSKEY = "This passkey is not registered here. Sign in with your password, then add it."
EXPIRED = "The passkey request has expired. Please try again."
ALREADY_ADDED = "This passkey is already registered."
NEW_HANDLE_KEY = "_passkey_user_handle"


class PasskeyError(Exception):
    """A ceremony or change was refused; the message is meant for the person."""


@dataclass(frozen=True)
class RelyingParty:
    """Who the passkeys belong to: ``id`` is the host name, ``origin`` the scheme, host and port."""

    id: str
    origin: str

    @classmethod
    def from_url(cls, url: str) -> RelyingParty:
        parts = urlsplit(url)
        return cls(id=(parts.hostname or "").lower(), origin=f"{parts.scheme}://{parts.netloc}".lower())


def relying_party(request_origin: str) -> RelyingParty:
    """The relying party of ``ONBOARDING_BASE_URL``; without it (development), the page's own origin."""
    base = current_app.config.get("BASE_URL")
    return RelyingParty.from_url(str(base) if base else request_origin)


def wrong_origin_message(rp: RelyingParty, request_origin: str) -> str | None:
    """Why passkeys cannot be used on a page opened at ``request_origin``, or None when they can.

    The browser binds passkeys to the relying party's domain and offers them only in a secure
    context: the page must be at the relying party's origin, which must be a host name (not an IP
    address) served over HTTPS, or ``localhost``.
    """
    opened = RelyingParty.from_url(request_origin).origin
    if opened != rp.origin:
        return f"Passkeys work only at {rp.origin}/ — this page was opened at {opened}/."
    if _is_ip(rp.id):
        return (
            f"Passkeys cannot be used at {rp.origin}/: they need a host name, not an IP address. "
            "Open the site by its name (ONBOARDING_BASE_URL), e.g. http://localhost for a local server."
        )
    local = rp.id == "localhost" or rp.id.endswith(".localhost")
    if not rp.origin.startswith("https://") and not local:
        return f"Passkeys need HTTPS: they cannot be used at {rp.origin}/."
    return None


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# --- the user's passkeys ----------------------------------------------------------------------------


def passkeys_of(user: User | int) -> list[Passkey]:
    user_id = user if isinstance(user, int) else user.id
    return list(db.session.scalars(select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.id)))


def user_has_passkey(user_id: int) -> bool:
    found = db.session.scalar(select(Passkey.id).where(Passkey.user_id == user_id).limit(1))
    return found is not None


def get_passkey(user: User, passkey_id: int) -> Passkey | None:
    return db.session.scalar(select(Passkey).where(Passkey.id == passkey_id, Passkey.user_id == user.id))


def clean_name(name: str | None) -> str:
    """A name as shown in the list: trimmed, single spaces, no control characters; required."""
    cleaned = " ".join("".join(ch for ch in (name or "") if ch.isprintable()).split())
    if not cleaned:
        raise PasskeyError("Enter a name for the passkey.")
    if len(cleaned) > NAME_MAX:
        raise PasskeyError(f"Use at most {NAME_MAX} characters.")
    return cleaned


def default_name(user: User) -> str:
    count = db.session.scalar(select(func.count(Passkey.id)).where(Passkey.user_id == user.id)) or 0
    return "Passkey" if count == 0 else f"Passkey {count + 1}"


def rename(passkey: Passkey, name: str | None) -> None:
    passkey.name = clean_name(name)


def remove(user: User, passkey: Passkey) -> None:
    """Delete one passkey. Refused when it is the user's last second factor and an organization they
    belong to requires two-factor authentication (as removing the authenticator app is)."""
    from onboarding.twofactor import service as tf

    others = [p for p in passkeys_of(user) if p.id != passkey.id]
    if not others and tf.get_authenticator(user) is None:
        required_by = tf.orgs_requiring_2fa(user)
        if required_by:
            raise PasskeyError(
                "This is your only second factor, and two-factor authentication is required by "
                + ", ".join(required_by)
                + ". Add another passkey or an authenticator app first."
            )
    db.session.delete(passkey)
    db.session.flush()


# --- registration -----------------------------------------------------------------------------------


def _user_handle(user: User) -> str:
    """The WebAuthn user id shared by the user's passkeys (random, so it says nothing about them).

    Before the first passkey exists, the one offered is kept in the session until it is registered.
    """
    existing = db.session.scalar(select(Passkey.user_handle).where(Passkey.user_id == user.id).limit(1))
    if existing:
        return str(existing)
    offered = session.get(NEW_HANDLE_KEY)
    if not isinstance(offered, list) or offered[0] != user.id:
        offered = [user.id, bytes_to_base64url(generate_user_handle())]
        session[NEW_HANDLE_KEY] = offered
    return str(offered[1])


def registration_options(user: User, rp: RelyingParty) -> dict[str, Any]:
    """Options for ``navigator.credentials.create()``: a discoverable credential, user verification
    preferred, none of the user's existing passkeys again. The challenge is kept server-side."""
    options = generate_registration_options(
        rp_id=rp.id,
        rp_name=RP_NAME,
        user_id=base64url_to_bytes(_user_handle(user)),
        user_name=user.email,
        user_display_name=user.name or user.email,
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            require_resident_key=True,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(p) for p in passkeys_of(user)],
    )
    challenges.issue("register", options.challenge, user.id)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def register(user: User, credential: Any, rp: RelyingParty, name: str | None) -> Passkey:
    """Verify the browser's answer to the registration challenge and store the passkey."""
    taken = challenges.take("register")
    if taken is None or taken[1] != user.id:
        raise PasskeyError(EXPIRED)
    label = clean_name(name) if name else default_name(user)
    try:
        verified = verify_registration_response(
            credential=_credential(credential),
            expected_challenge=taken[0],
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(NOT_VERIFIED) from exc
    credential_id = bytes_to_base64url(verified.credential_id)
    if db.session.scalar(select(Passkey.id).where(Passkey.credential_id == credential_id)) is not None:
        raise PasskeyError(ALREADY_ADDED)
    transports = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    passkey = Passkey(
        user_id=user.id,
        credential_id=credential_id,
        user_handle=_user_handle(user),
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        name=label,
        transports=",".join(_known_transports(transports)),
        aaguid=verified.aaguid,
        backed_up=verified.credential_backed_up,
    )
    db.session.add(passkey)
    db.session.flush()
    session.pop(NEW_HANDLE_KEY, None)
    return passkey


# --- authentication ---------------------------------------------------------------------------------


def authentication_options(purpose: str, rp: RelyingParty, user: User | None = None) -> dict[str, Any]:
    """Options for ``navigator.credentials.get()``. Without ``user`` (sign-in) the browser offers any
    passkey it holds for this site; with one (second factor, confirming) only that user's."""
    allow = [_descriptor(p) for p in passkeys_of(user)] if user is not None else []
    options = generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=allow,
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    challenges.issue(purpose, options.challenge, user.id if user is not None else None)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def authenticate(purpose: str, credential: Any, rp: RelyingParty) -> Passkey:
    """Verify an assertion against this session's challenge for ``purpose``; returns the passkey used
    (its counter and last use updated). A challenge issued for a user accepts only their passkeys.

    The challenge is gone afterwards whatever the outcome, so an assertion never counts twice; a sign
    counter that did not grow (a cloned authenticator, or a replay) is refused by the library.
    """
    taken = challenges.take(purpose)
    if taken is None:
        raise PasskeyError(EXPIRED)
    challenge, for_user = taken
    parsed = _credential(credential)
    raw_id = parsed.get("rawId") or parsed.get("id")
    passkey = (
        db.session.scalar(select(Passkey).where(Passkey.credential_id == raw_id))
        if isinstance(raw_id, str) and len(raw_id) <= 1400
        else None
    )
    if passkey is None or (for_user is not None and passkey.user_id != for_user):
        raise PasskeyError(UNKNOWN_PASSKEY)
    handle = (
        parsed.get("response", {}).get("userHandle") if isinstance(parsed.get("response"), dict) else None
    )
    if handle and handle != passkey.user_handle:
        raise PasskeyError(NOT_VERIFIED)
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=rp.origin,
            credential_public_key=passkey.public_key,
            credential_current_sign_count=passkey.sign_count,
        )
    except (WebAuthnException, ValueError, TypeError, KeyError) as exc:
        raise PasskeyError(NOT_VERIFIED) from exc
    # Conditional: two answers racing with the same counter cannot both move it.
    moved = db.session.execute(
        update(Passkey)
        .where(Passkey.id == passkey.id, Passkey.sign_count == passkey.sign_count)
        .values(
            sign_count=verified.new_sign_count, last_used_at=utcnow(), backed_up=verified.credential_backed_up
        )
    )
    if not moved.rowcount:  # type: ignore[attr-defined]
        raise PasskeyError(NOT_VERIFIED)
    db.session.refresh(passkey)
    return passkey


# --- helpers ----------------------------------------------------------------------------------------


def _credential(credential: Any) -> dict[str, Any]:
    """The browser's PublicKeyCredential as JSON (an object), or a refusal."""
    if isinstance(credential, str):
        if len(credential) > MAX_CREDENTIAL_JSON:
            raise PasskeyError(NOT_VERIFIED)
        try:
            credential = json.loads(credential)
        except ValueError as exc:
            raise PasskeyError(NOT_VERIFIED) from exc
    if not isinstance(credential, dict):
        raise PasskeyError(NOT_VERIFIED)
    return credential


def _known_transports(values: Any) -> list[str]:
    known = {t.value for t in AuthenticatorTransport}
    return [v for v in values if isinstance(v, str) and v in known] if isinstance(values, list) else []


def _descriptor(passkey: Passkey) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in passkey.transports.split(",") if t]
    return PublicKeyCredentialDescriptor(
        id=base64url_to_bytes(passkey.credential_id), transports=transports or None
    )
