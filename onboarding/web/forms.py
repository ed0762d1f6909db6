"""Forms every page shares."""

from __future__ import annotations

from flask_wtf import FlaskForm


class EmptyForm(FlaskForm):
    """A POST-only button (sign out, accept, revoke): CSRF and nothing else."""
