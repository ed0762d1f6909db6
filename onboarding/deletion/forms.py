"""The two confirmation forms. Field names are part of the contract (``password``, ``confirm``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from onboarding.passwords import MAX_LENGTH


class AccountDeleteForm(FlaskForm):
    password = PasswordField(
        "Your password",
        id="account-delete-password",
        # Required unless a passkey confirmed it is them (checked in the view).
        validators=[Length(max=MAX_LENGTH)],
    )


class OrgDeleteForm(FlaskForm):
    confirm = StringField(
        "Type the organization's slug to confirm",
        id="org-delete-confirm",
        filters=[lambda v: (v or "").strip()],
        validators=[DataRequired("Type the slug to confirm."), Length(max=100)],
    )
