"""Passkeys (WebAuthn, through the ``webauthn`` library): sign-in without a password, and a second factor."""

from flask import Blueprint

bp = Blueprint("passkeys", __name__)

from onboarding.passkeys import page_views, views  # noqa: E402,F401


def _second_factor(user_id: int) -> bool:
    from onboarding.passkeys.service import user_has_passkey

    return user_has_passkey(user_id)


def _register_second_factor() -> None:
    """A passkey counts as a second factor wherever two-factor authentication is asked about."""
    from onboarding.twofactor.service import add_second_factor_check

    add_second_factor_check(_second_factor)


_register_second_factor()

from onboarding.passkeys import api_doc  # noqa: E402

api_doc.register()
