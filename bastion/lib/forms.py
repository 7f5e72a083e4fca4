"""What every app's views do with a form when a service refuses its data."""

from __future__ import annotations

from collections.abc import Mapping

from django.core.exceptions import ValidationError
from django.forms import Form


def attach_refusal(form: Form, error: ValidationError, *, renamed: Mapping[str, str] | None = None) -> None:
    """Put a service's refusal beside the field it names, or above the form if the form has none such.

    Services refuse with the names of their own arguments; ``renamed`` maps those to the form's
    field names where the two differ.
    """
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for name, problems in error.message_dict.items():
        field = (renamed or {}).get(name, name)
        form.add_error(field if field in form.fields else None, problems)
