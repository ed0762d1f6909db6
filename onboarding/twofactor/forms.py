"""Two-factor forms. Field names ``otp`` and the form ids are part of the contract."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField
from wtforms.validators import DataRequired, Length


class CodeForm(FlaskForm):
    otp = StringField(
        "Authentication code",
        id="otp",
        validators=[DataRequired("Enter the code from your authenticator app."), Length(max=64)],
    )


class PasswordConfirmForm(FlaskForm):
    password = PasswordField(
        "Current password", id="confirm-password", validators=[DataRequired("Enter your password.")]
    )


class Require2FAForm(FlaskForm):
    require2FA = BooleanField("Require two-factor authentication for every member", id="require2FA")
