"""The organization's SSO settings form."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from onboarding.orgs import roles


class ProviderForm(FlaskForm):
    name = StringField(
        "Provider name",
        id="sso-name",
        description='Shown on the sign-in button, e.g. "Acme ID".',
        validators=[DataRequired("Enter a name for the provider."), Length(max=64)],
    )
    issuer = StringField(
        "Issuer URL",
        id="sso-issuer",
        description="The provider's issuer; its /.well-known/openid-configuration is read from there.",
        validators=[DataRequired("Enter the issuer URL."), Length(max=500)],
    )
    client_id = StringField(
        "Client ID", id="sso-client-id", validators=[DataRequired("Enter the client ID."), Length(max=255)]
    )
    client_secret = PasswordField(
        "Client secret",
        id="sso-client-secret",
        description="Stored and never shown again. Leave empty to keep the current secret.",
        validators=[Optional(), Length(max=500)],
    )
    required = SelectField(
        "Single sign-on is",
        id="sso-required",
        choices=[SelectChoice("required", "Required for every member"), SelectChoice("optional", "Optional")],
        default="required",
    )
    default_role = SelectField(
        "Role for members who join through SSO",
        id="sso-default-role",
        choices=[SelectChoice(r.id, r.name) for r in roles.ROLES],
        default=roles.DEFAULT_ROLE,
    )
    allow_jit = BooleanField(
        "Create an account and membership for anyone the provider signs in (just in time)",
        id="sso-allow-jit",
    )
