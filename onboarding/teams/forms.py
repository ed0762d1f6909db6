from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import IntegerField, StringField
from wtforms.validators import InputRequired


class TeamForm(FlaskForm):
    """Create or rename a team; the service checks the name and slug and explains a refusal."""

    name = StringField("Name", description="The slug is made from the name (letters, numbers, hyphens).")
    slug = StringField("Slug", description="Used in URLs and the API. Leave it to keep the current one.")


class TeamMemberForm(FlaskForm):
    member = IntegerField("Member", validators=[InputRequired("Choose a member.")])
