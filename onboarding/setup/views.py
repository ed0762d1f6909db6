from __future__ import annotations

from flask import abort, current_app, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import EmailField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, Optional, ValidationError

from onboarding.accounts.service import AccountError, normalize_email
from onboarding.auth.flow import client_ip, landing_url, sign_in
from onboarding.extensions import db
from onboarding.passwords import policy_errors
from onboarding.setup import bp, service
from onboarding.web.htmx import render, see_other


class SetupForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100)])
    email = EmailField(
        "Email",
        filters=[normalize_email],
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address.", allow_smtputf8=False),
        ],
    )
    password = PasswordField("Password", validators=[DataRequired("Choose a password.")])
    organization = StringField("Organization name", validators=[Optional(), Length(max=64)])

    def validate_password(self, field: PasswordField) -> None:
        errors = policy_errors(field.data or "", user_inputs=[self.email.data or ""])
        if errors:
            raise ValidationError(errors[0])


@bp.after_request
def _no_referrer(resp: Response) -> Response:
    # The token is in the address: never send it on as a Referer, whatever the answer.
    resp.headers["Referrer-Policy"] = "no-referrer"
    return resp


@bp.route("/<token>/", methods=["GET", "POST"])
def setup(token: str) -> Response:
    if len(token) > 200 or not service.token_valid(token):
        abort(404, "This setup link is not valid. It works once, while no administrator exists.")
    form = SetupForm()
    if not form.is_submitted() and current_app.config["SINGLE_ORGANIZATION"]:
        form.organization.data = current_app.config["ORGANIZATION_NAME"]
    if form.validate_on_submit():
        try:
            user = service.complete(
                token,
                name=form.name.data,
                email=form.email.data,
                password=form.password.data,
                org_name=form.organization.data,
                ip=client_ip(),
            )
        except AccountError as exc:
            form.email.errors = [str(exc)]
        else:
            sign_in(user)
            target = landing_url(user)
            db.session.commit()
            return see_other(target)
    status = 422 if form.is_submitted() else 200
    return render(
        "setup/setup.html", block="form", status=status, form=form, action=url_for("setup.setup", token=token)
    )
