"""Forms of the passkey list on the security page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length


class RenameForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired("Enter a name for the passkey."), Length(max=64)])


class RemoveForm(FlaskForm):
    password = PasswordField("Current password")
