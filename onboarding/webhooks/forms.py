"""The form that adds an endpoint: its URL and the events it receives."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import SelectChoice, SelectMultipleField, URLField
from wtforms.validators import DataRequired, Length
from wtforms.widgets import CheckboxInput, ListWidget

from onboarding.webhooks.events import EVENTS


class WebhookForm(FlaskForm):
    url = URLField(
        "Endpoint URL",
        id="webhook-url",
        description="Where events are POSTed, e.g. https://hooks.example.com/onboarding.",
        validators=[DataRequired("Enter the URL that receives the events."), Length(max=2048)],
    )
    events = SelectMultipleField(
        "Events",
        id="webhook-events",
        choices=[SelectChoice(value, label) for value, label in EVENTS.items()],
        validators=[DataRequired("Choose at least one event.")],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
