"""The dashboard's forms; Flask-WTF adds and checks the CSRF token on each."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields import DateTimeLocalField
from wtforms.validators import DataRequired, InputRequired, Length, Optional

from ...tasks import OUTCOMES

OUTCOME_LABELS = {
    "no_answer": "No answer",
    "left_voicemail": "Left a voicemail",
    "reached": "Reached them",
    "wrong_number": "Wrong number",
    "declined": "Declined",
}
NOTE = "Note for the audit trail (optional)"


class LoginForm(FlaskForm):
    """Email and password."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ActionForm(FlaskForm):
    """A button with nothing to fill in: claim, reopen, sign out."""


class AccountForm(FlaskForm):
    """Disable or enable one staff account (admins only)."""

    email = HiddenField(validators=[DataRequired(), Length(max=254)])


class AttemptForm(FlaskForm):
    """Record one call attempt."""

    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice(o, OUTCOME_LABELS[o]) for o in OUTCOMES],
        validators=[DataRequired()],
    )
    note = StringField(NOTE, validators=[Optional(), Length(max=500)])


def _business_timezone() -> ZoneInfo:
    tz: ZoneInfo = current_app.extensions["intake"].settings.business_timezone
    return tz


class RescheduleForm(FlaskForm):
    """Move a claimed task to a new time, entered in the business time zone."""

    when = DateTimeLocalField(
        "New time", format="%Y-%m-%dT%H:%M", tz=_business_timezone, validators=[InputRequired()]
    )
    note = StringField(NOTE, validators=[Optional(), Length(max=500)])


class DoneForm(FlaskForm):
    """Complete a claimed task."""

    note = StringField(NOTE, validators=[Optional(), Length(max=500)])


class MessageForm(FlaskForm):
    """A text to a WhatsApp task's person, sent on WhatsApp only."""

    body = TextAreaField("Message", validators=[DataRequired(), Length(max=1000)])
