from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from onboarding.orgs.service import SlugError, validate_slug


class OrganizationCreateForm(FlaskForm):
    name = StringField(
        "Organization name",
        validators=[DataRequired("Enter a name for the organization."), Length(max=64)],
    )
    slug = StringField(
        "Organization ID (slug)",
        description="Used in addresses. Letters, numbers and hyphens; leave empty to derive it from the name.",
        validators=[Optional()],
    )

    def validate_slug(self, field: StringField) -> None:
        try:
            field.data = validate_slug(field.data)
        except SlugError as exc:
            raise ValidationError(str(exc)) from None
