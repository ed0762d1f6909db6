"""The form that creates a token: a name and at least one scope."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from onboarding.tokens.service import SCOPES


class TokenForm(FlaskForm):
    name = StringField(
        "Name",
        id="token-name",
        description="What the token is for, e.g. “deploy script”.",
        validators=[DataRequired("Give the token a name."), Length(max=64)],
    )
    scopes = SelectMultipleField(
        "Scopes",
        id="token-scopes",
        choices=[SelectChoice(value, label) for value, label in SCOPES.items()],
        validators=[DataRequired("Choose at least one scope.")],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
