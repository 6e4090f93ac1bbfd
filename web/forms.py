"""The app's HTML forms; Flask-WTF adds and checks a CSRF token on each."""

from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField, TextAreaField
from wtforms.validators import AnyOf, InputRequired, Length, Optional, ValidationError

from analytics.gaps import REASONS as VOTE_REASONS
from replies.reply import MAX_NAME_CHARS

SIGNATURE_MAX_CHARS = 1000


def max_message_chars(_form, field) -> None:
    limit = current_app.config["REPLY_MESSAGE_MAX_CHARS"]
    if field.data and len(field.data) > limit:
        raise ValidationError(f"The message is too long: at most {limit} characters.")


class LoginForm(FlaskForm):
    email = StringField("Email", validators=[InputRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[InputRequired(), Length(max=1024)])


class LogoutForm(FlaskForm):
    pass


class ConsoleForm(FlaskForm):
    message = TextAreaField("Customer's message", validators=[InputRequired(), max_message_chars])
    customer_name = StringField("Customer name", validators=[Optional(), Length(max=MAX_NAME_CHARS)])
    signature = TextAreaField("Your signature", validators=[Optional(), Length(max=SIGNATURE_MAX_CHARS)])
    # Set by the button the agent pressed: empty lets the bot choose, an intent overrides it.
    intent = StringField("Intent", validators=[Optional(), Length(max=100)])


class ArticleVoteForm(FlaskForm):
    vote = StringField("Was this article helpful?", validators=[InputRequired(), AnyOf(["up", "down"])])
    reason = StringField("What was wrong?", validators=[Optional(), AnyOf(list(VOTE_REASONS))])


class AdminForm(FlaskForm):
    """Carries the CSRF token of the inbox's forms; their fields are read per row."""


class SynonymForm(FlaskForm):
    word = StringField("Word people use", validators=[InputRequired(), Length(max=40)])
    synonym = StringField("Means the same as", validators=[InputRequired(), Length(max=40)])


class NoteForm(FlaskForm):
    group = StringField(validators=[InputRequired(), Length(max=16)])
    key = StringField(validators=[InputRequired(), Length(max=300)])
    text = TextAreaField("Missing article section", validators=[InputRequired(), Length(max=1000)])


class ImportForm(FlaskForm):
    examples = TextAreaField(
        "Training examples (YAML, as in intents.yml)", validators=[Optional(), Length(max=200_000)]
    )
