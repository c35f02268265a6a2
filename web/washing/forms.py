from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField
from wtforms.validators import DataRequired, NumberRange, Optional


class StartForm(FlaskForm):
    """One tap on a backlog row: the order and cup type travel as hidden fields."""

    order_id = HiddenField(validators=[DataRequired()])
    cup_type = HiddenField(validators=[DataRequired()])
    quantity = IntegerField(validators=[Optional(), NumberRange(min=1)])


class EndForm(FlaskForm):
    """The confirmation of ending a batch: only the CSRF token."""
