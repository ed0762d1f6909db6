"""The link form: field names are part of the contract (``#invite-link-form``)."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField
from wtforms.validators import NumberRange, Optional


class InviteLinkForm(FlaskForm):
    role = SelectField("Role", choices=[], validate_choice=False)  # the service explains a refused role
    max_uses = IntegerField(
        "Uses",
        description="How many people may join through it. Leave blank for no limit.",
        validators=[Optional(), NumberRange(1, 10_000, "Enter a number of uses from 1 to 10,000.")],
    )
    expires_days = IntegerField(
        "Expires after (days)",
        default=7,
        validators=[NumberRange(1, 90, "A link lasts from 1 to 90 days.")],
    )
    allowed_domains = StringField(
        "Allowed email domains",
        description="Comma separated, e.g. example.com; blank for any address. Only addresses there may join, "
        "after confirming the address by email.",
    )
    require_approval = BooleanField("Managers approve each person who joins")
