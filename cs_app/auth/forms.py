"""Sign-in and user administration forms."""

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Email, EqualTo, Length, Optional

from cs_app.auth.models import ROLE_LABELS


class LoginForm(FlaskForm):
    email = EmailField("Email", validators=[DataRequired("Enter your email address.")])
    password = PasswordField("Password", validators=[DataRequired("Enter your password.")])
    remember = BooleanField("Keep me signed in")


class PasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired("Enter your current password.")]
    )
    new_password = PasswordField("New password", validators=[DataRequired("Enter a new password.")])
    confirm = PasswordField(
        "Repeat the new password",
        validators=[EqualTo("new_password", message="The two new passwords differ.")],
    )


class UserForm(FlaskForm):
    email = EmailField(
        "Email",
        validators=[
            DataRequired("Enter an email address."),
            Email("Enter an email address like name@example.com."),
        ],
    )
    name = StringField(
        "Name", validators=[DataRequired("Enter the person's name."), Length(max=200)]
    )
    role = SelectField("Role", choices=[SelectChoice(k, v) for k, v in ROLE_LABELS.items()])
    password = PasswordField(
        "Password", validators=[Optional(), Length(min=8, message="Use at least 8 characters.")]
    )
    active = BooleanField("Active", default=True)
    away = BooleanField("Away (out of office)")


class TokenForm(FlaskForm):
    name = StringField(
        "Token name",
        validators=[
            DataRequired("Name the token, e.g. the integration that will use it."),
            Length(max=100),
        ],
    )
