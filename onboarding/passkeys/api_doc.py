"""The passkey ceremonies in the OpenAPI document (``/api/0/openapi.json``).

They live under ``/auth/passkey/…`` (browser session and CSRF header, like the rest of the site's
forms) rather than under ``/api/0/``, and bearer tokens do not apply to them; they are listed so that
a client other than ``static/passkeys.js`` can be written against them.
"""

from __future__ import annotations

from typing import Any

from onboarding.api.openapi import ERROR, register_operation

TAGS = ["passkeys"]
# The options are what navigator.credentials.create()/get() take, with bytes in base64url
# (WebAuthn Level 3's PublicKeyCredentialCreationOptionsJSON / …RequestOptionsJSON).
OPTIONS: dict[str, Any] = {
    "type": "object",
    "required": ["publicKey"],
    "properties": {"publicKey": {"type": "object", "required": ["challenge"]}},
}
REDIRECT: dict[str, Any] = {
    "type": "object",
    "required": ["redirect"],
    "properties": {"redirect": {"type": "string"}},
}
# The browser's PublicKeyCredential as JSON (RegistrationResponseJSON / AuthenticationResponseJSON).
ANSWER: dict[str, Any] = {
    "type": "object",
    "required": ["credential"],
    "properties": {"credential": {"type": "object"}},
}
EMPTY: dict[str, Any] = {"type": "object"}


def _ceremony(
    path: str, what: str, *, signed_in: bool, answer: dict[str, Any], result: dict[str, Any]
) -> None:
    statuses: dict[int, dict[str, Any] | None] = {200: OPTIONS, 401: ERROR, 403: ERROR, 429: ERROR}
    register_operation(
        "POST",
        f"{path}options/",
        summary=f"{what}: a fresh single-use challenge (five minutes) and the options for the browser",
        responses=statuses,
        request_body=EMPTY,
        auth=signed_in,
        tags=TAGS,
    )
    register_operation(
        "POST",
        path,
        summary=f"{what}: the browser's answer to the challenge",
        responses={200: result, 401: ERROR, 403: ERROR, 422: ERROR, 429: ERROR},
        request_body=answer,
        auth=signed_in,
        tags=TAGS,
    )


def register() -> None:
    _ceremony(
        "/auth/passkey/signin/",
        "Sign in with a passkey (no email: the passkey says whose it is)",
        signed_in=False,
        answer=ANSWER,
        result=REDIRECT,
    )
    _ceremony(
        "/auth/passkey/2fa/",
        "A passkey as the second factor after a password",
        signed_in=False,
        answer=ANSWER,
        result=REDIRECT,
    )
    _ceremony(
        "/auth/passkey/register/",
        "Add a passkey to the signed-in account (after 10 minutes the options need the password)",
        signed_in=True,
        answer={
            **ANSWER,
            "properties": {**ANSWER["properties"], "name": {"type": "string", "maxLength": 64}},
        },
        result={
            "type": "object",
            "required": ["id", "name", "redirect"],
            "properties": {
                "id": {"type": "integer"},
                "name": {"type": "string"},
                "redirect": {"type": "string"},
            },
        },
    )
    _ceremony(
        "/auth/passkey/confirm/",
        "Confirm a passkey-only account's sign-in again before changing its passkeys",
        signed_in=True,
        answer=ANSWER,
        result=REDIRECT,
    )
