"""Sign-in, registration and SSO forms. Field names are part of the contract; ids are unique per page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from onboarding.accounts.service import EMAIL_TAKEN, get_user_by_email, normalize_email
from onboarding.passwords import MAX_LENGTH, policy_errors


class LoginForm(FlaskForm):
    op = HiddenField(default="login", id="login-op")
    username = EmailField("Email", id="login-username")
    password = PasswordField("Password", id="login-password")


class RegisterForm(FlaskForm):
    op = HiddenField(default="register", id="register-op")
    name = StringField(
        "Name", id="register-name", validators=[DataRequired("Enter your name."), Length(max=100)]
    )
    username = EmailField(
        "Email",
        id="register-username",
        filters=[normalize_email],
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address.", allow_smtputf8=False),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Password",
        id="register-password",
        validators=[DataRequired("Choose a password."), Length(max=MAX_LENGTH)],
    )

    #: the invited address, when registering through an invite: the email cannot be changed
    fixed_email: str | None = None
    #: inline validation answers format questions only, never "is this email registered?"
    check_taken: bool = True

    def validate_username(self, field: EmailField) -> None:
        if self.fixed_email is not None and field.data != self.fixed_email:
            raise ValidationError("This invite was sent to another address; register with the invited email.")
        if self.check_taken and get_user_by_email(field.data or "") is not None:
            raise ValidationError(EMAIL_TAKEN)

    def validate_password(self, field: PasswordField) -> None:
        errors = policy_errors(field.data or "", user_inputs=[self.username.data or "", self.name.data or ""])
        if errors:
            raise ValidationError(errors[0])


class SSOForm(FlaskForm):
    op = HiddenField(default="sso", id="sso-op")
    organization = StringField(
        "Organization ID", id="sso-organization", validators=[DataRequired("Enter your organization's ID.")]
    )
