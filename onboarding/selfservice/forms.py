"""Forms of the account pages. Field names are part of the contract; ids are unique per page."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import EmailField, HiddenField, PasswordField, StringField
from wtforms.validators import DataRequired, Email, Length, ValidationError

from onboarding.accounts.service import normalize_email
from onboarding.passwords import MAX_LENGTH, policy_errors


class RecoverForm(FlaskForm):
    email = EmailField(
        "Email",
        id="recover-email",
        filters=[normalize_email],
        validators=[
            DataRequired("Enter your email address."),
            Email("Enter a valid email address.", allow_smtputf8=False),
            Length(max=254),
        ],
    )


class NewPasswordMixin:
    #: values the new password must not resemble (email, name)
    user_inputs: tuple[str, ...] = ()

    def check_policy(self, field: PasswordField) -> None:
        errors = policy_errors(field.data or "", user_inputs=self.user_inputs)
        if errors:
            raise ValidationError(errors[0])


class ResetForm(NewPasswordMixin, FlaskForm):
    password = PasswordField(
        "New password",
        id="reset-password",
        validators=[DataRequired("Choose a new password."), Length(max=MAX_LENGTH)],
    )

    def validate_password(self, field: PasswordField) -> None:
        self.check_policy(field)


class ProfileForm(FlaskForm):
    op = HiddenField(default="profile", id="profile-op")
    name = StringField(
        "Name", id="profile-name", validators=[DataRequired("Enter your name."), Length(max=100)]
    )


class EmailChangeForm(FlaskForm):
    op = HiddenField(default="email", id="email-op")
    email = EmailField(
        "New email",
        id="email-email",
        filters=[normalize_email],
        validators=[
            DataRequired("Enter the new email address."),
            Email("Enter a valid email address.", allow_smtputf8=False),
            Length(max=254),
        ],
    )
    password = PasswordField(
        "Current password",
        id="email-password",
        validators=[DataRequired("Enter your current password."), Length(max=MAX_LENGTH)],
    )


class PasswordChangeForm(NewPasswordMixin, FlaskForm):
    op = HiddenField(default="password", id="password-op")
    old_password = PasswordField(
        "Current password",
        id="password-old",
        validators=[DataRequired("Enter your current password."), Length(max=MAX_LENGTH)],
    )
    new_password = PasswordField(
        "New password",
        id="password-new",
        validators=[DataRequired("Choose a new password."), Length(max=MAX_LENGTH)],
    )

    def validate_new_password(self, field: PasswordField) -> None:
        self.check_policy(field)
        if field.data and field.data == self.old_password.data:
            raise ValidationError("The new password must differ from the current one.")
