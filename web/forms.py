"""Helpers shared by the forms of every audience."""

from __future__ import annotations

from collections.abc import Mapping

from flask_wtf import FlaskForm

from wash_ops.errors import InvalidInput
from web.errors import translate


def show_problems(
    form: FlaskForm, error: InvalidInput, field_names: Mapping[str, str] | None = None
) -> None:
    """Attach a service's problems to the form fields they concern (others go on top)."""
    field_names = field_names or {}
    for problem in error.problems:
        name = field_names.get(problem.field or "", problem.field or "")
        field = form._fields.get(name) if name else None
        message = translate(problem)
        if field is None:
            form.form_errors.append(message)
        else:
            field.errors = [*field.errors, message]
