from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Email, Length
from wtforms.widgets import CheckboxInput, ListWidget

from onboarding.accounts.service import normalize_email


class InviteForm(FlaskForm):
    emails = TextAreaField(
        "Email addresses",
        description="One or more, separated by commas or new lines.",
        validators=[DataRequired("Enter at least one email address.")],
    )
    role = SelectField("Role", choices=[], validate_choice=False)  # the service explains a refused role
    teams = SelectMultipleField(
        "Teams", choices=[], coerce=int, option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False)
    )


class JoinRequestForm(FlaskForm):
    name = StringField("Your name", validators=[DataRequired("Enter your name."), Length(max=100)])
    email = EmailField(
        "Email",
        filters=[normalize_email],
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address.", allow_smtputf8=False),
        ],
    )


class MemberEditForm(FlaskForm):
    """A member's role and teams (the service explains a refused role or team)."""

    role = SelectField("Role", choices=[], validate_choice=False)
    teams = SelectMultipleField("Teams", choices=[], coerce=int, validate_choice=False)
