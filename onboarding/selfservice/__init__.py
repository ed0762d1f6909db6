"""``/account/…``: forgotten passwords, email confirmation, and the account settings page."""

from flask import Blueprint

bp = Blueprint("account", __name__, url_prefix="/account")


@bp.record_once
def _mask_token_paths_in_logs(_state: object) -> None:
    from onboarding.web.logmask import install

    install()


from onboarding.selfservice import email_views, recover_views, settings_views  # noqa: E402,F401
