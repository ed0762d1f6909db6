"""``/account/settings/tokens/``: list, create (the token is shown once) and revoke personal API tokens."""

from __future__ import annotations

from flask import abort, flash, url_for
from flask_login import current_user, login_required
from werkzeug.wrappers import Response

from onboarding.extensions import db
from onboarding.tokens import bp
from onboarding.tokens import service as tokens
from onboarding.tokens.forms import TokenForm
from onboarding.web.forms import EmptyForm
from onboarding.web.htmx import render, see_other

TEMPLATE = "tokens/tokens.html"


def _page(
    form: TokenForm, *, status: int = 200, new_token: str | None = None, block: str | None = None
) -> Response:
    resp = render(
        TEMPLATE,
        block=block,
        status=status,
        form=form,
        tokens=tokens.tokens_for(current_user),
        scopes=tokens.SCOPES,
        new_token=new_token,
    )
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.get("/")
@login_required
def index() -> Response:
    return _page(TokenForm(formdata=None))


@bp.post("/")
@login_required
def create() -> Response:
    form = TokenForm()
    if form.validate():
        try:
            token, raw = tokens.create_token(current_user, form.name.data, form.scopes.data)
        except tokens.TokenError as exc:
            form.name.errors = [str(exc)]
        else:
            db.session.commit()
            # Shown in this answer only: not redirected, not flashed (the cookie session is readable).
            fresh = TokenForm(formdata=None)
            return _page(fresh, status=201, new_token=raw, block="tokens_body")
    return _page(form, status=422, block="tokens_body")


@bp.post("/<int:token_id>/revoke/")
@login_required
def revoke(token_id: int) -> Response:
    EmptyForm()  # CSRF is checked for every POST by CSRFProtect
    if not tokens.revoke(current_user, token_id):
        abort(404)
    db.session.commit()
    flash("The token was revoked; programs using it can no longer call the API.", "success")
    return see_other(url_for("tokens.index"))
