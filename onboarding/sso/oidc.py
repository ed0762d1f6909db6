"""The OpenID Connect relying party, on Authlib: discovery, the authorization URL, the code exchange
and the ID token checks. No Flask request or session here; plain values in, plain values out.

Authlib does the protocol pieces (PKCE S256, the token request with client authentication, ID token
claim validation: iss, aud, exp, iat, nonce, at_hash); joserfc (Authlib's JOSE backend) checks the
signature against the provider's published keys.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from onboarding import secretbox  # noqa: E402

# requests, Authlib and joserfc (~6 MB) are imported where a sign-in through a provider needs them, not
# in every web process at start-up.
if TYPE_CHECKING:
    from authlib.integrations.requests_client import OAuth2Session

SCOPE = "openid email profile"
REQUIRED_METADATA = ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri")


class OIDCError(Exception):
    """The provider or its answer cannot be trusted; the message is meant for the person."""


@dataclass(frozen=True)
class Identity:
    subject: str
    email: str
    email_verified: bool
    name: str
    claims: dict[str, Any]


def _get_json(url: str, timeout: float, **kw: Any) -> dict[str, Any]:
    import requests

    try:
        resp = requests.get(url, timeout=timeout, **kw)
        resp.raise_for_status()
        data = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise OIDCError(f"Could not read {url}: {exc.__class__.__name__}.") from exc
    if not isinstance(data, dict):
        raise OIDCError(f"{url} did not answer with a JSON object.")
    return data


def discover(issuer: str, timeout: float) -> dict[str, Any]:
    """Read ``<issuer>/.well-known/openid-configuration``; its ``issuer`` must be exactly ``issuer``."""
    issuer = issuer.strip()
    if not issuer.startswith(("https://", "http://")):
        raise OIDCError("The issuer must be an http(s) URL.")
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    meta = _get_json(url, timeout)
    missing = [key for key in REQUIRED_METADATA if not meta.get(key)]
    if missing:
        raise OIDCError(f"The discovery document lacks {', '.join(missing)}.")
    if meta["issuer"] != issuer:
        raise OIDCError(f"The discovery document names the issuer {meta['issuer']!r}, not {issuer!r}.")
    if "code" not in meta.get("response_types_supported", ["code"]):
        raise OIDCError("The provider does not support the authorization code flow.")
    return {
        key: meta.get(key)
        for key in (
            *REQUIRED_METADATA,
            "userinfo_endpoint",
            "id_token_signing_alg_values_supported",
            "code_challenge_methods_supported",
        )
    }


def new_flow_values() -> dict[str, str]:
    """Fresh ``state``, ``nonce`` and PKCE ``code_verifier`` for one sign-in attempt."""
    return {
        "state": secrets.token_urlsafe(32),
        "nonce": secrets.token_urlsafe(32),
        "code_verifier": secrets.token_urlsafe(64),
    }


def _session(config: dict[str, Any], redirect_uri: str) -> OAuth2Session:
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(
        client_id=config["client_id"],
        client_secret=secretbox.unseal(config["client_secret"], "sso client secret"),
        scope=SCOPE,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
    )


def authorization_url(config: dict[str, Any], redirect_uri: str, flow: dict[str, str]) -> str:
    with _session(config, redirect_uri) as client:
        url, _state = client.create_authorization_url(
            config["metadata"]["authorization_endpoint"],
            state=flow["state"],
            nonce=flow["nonce"],
            code_verifier=flow["code_verifier"],
        )
    return str(url)


def complete(
    config: dict[str, Any], redirect_uri: str, code: str, flow: dict[str, str], timeout: float
) -> Identity:
    """Exchange ``code`` at the provider's token endpoint and check the ID token it returns.

    Raises :class:`OIDCError` for a refused code (unknown, used, issued to another client), a token
    not signed by the provider's keys, or a wrong issuer, audience, nonce or expiry.
    """
    import requests
    from authlib.common.errors import AuthlibBaseError
    from authlib.oidc.core import CodeIDToken
    from joserfc import jwt
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet
    from joserfc.jws import JWSRegistry

    meta = config["metadata"]
    issuer = config["issuer"]
    with _session(config, redirect_uri) as client:
        try:
            token = client.fetch_token(
                meta["token_endpoint"],
                code=code,
                code_verifier=flow["code_verifier"],
                timeout=timeout,
            )
        except (AuthlibBaseError, requests.RequestException, ValueError) as exc:
            raise OIDCError(f"The provider refused the sign-in code ({_reason(exc)}).") from exc
    if "id_token" not in token:
        raise OIDCError("The provider did not return an ID token.")
    keys = KeySet.import_key_set(_get_json(meta["jwks_uri"], timeout))  # type: ignore[arg-type]
    algorithms = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
    try:
        decoded = jwt.decode(
            token["id_token"],
            key=keys,
            registry=JWSRegistry(algorithms=algorithms, strict_check_header=False),
        )
    except (JoseError, ValueError) as exc:
        raise OIDCError("The ID token's signature could not be verified.") from exc
    claims = CodeIDToken(
        decoded.claims,
        decoded.header,
        {"iss": {"essential": True, "values": [issuer]}, "aud": {"essential": True}},
        {"nonce": flow["nonce"], "client_id": config["client_id"], "access_token": token.get("access_token")},
    )
    try:
        claims.validate(leeway=60)
    except (AuthlibBaseError, JoseError) as exc:
        raise OIDCError(f"The ID token is not valid here ({_reason(exc)}).") from exc
    data = dict(decoded.claims)
    if data.get("iss") != issuer:  # belt and braces: the check above must never be configured away
        raise OIDCError(f"The ID token was issued by {data.get('iss')!r}, not {issuer!r}.")
    if "email" not in data and meta.get("userinfo_endpoint") and token.get("access_token"):
        info = _get_json(
            meta["userinfo_endpoint"],
            timeout,
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        if info.get("sub") != data.get("sub"):
            raise OIDCError("The provider's user information is for another subject.")
        data = {**info, **data}
    subject = data.get("sub")
    if not isinstance(subject, str) or not subject or len(subject) > 128:
        raise OIDCError("The ID token has no usable subject.")
    return Identity(
        subject=subject,
        email=str(data.get("email") or "").strip().lower(),
        email_verified=data.get("email_verified") is True,
        name=str(data.get("name") or "")[:200],
        claims={k: data[k] for k in ("sub", "email", "email_verified", "name") if k in data},
    )


def _reason(exc: Exception) -> str:
    error = getattr(exc, "error", None)
    return str(error or exc.__class__.__name__)
