"""Form fields the disclosure pages share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms

from bastion.lib.when import YEAR_REFUSAL, plausible_year


class InstantField(forms.DateTimeField):
    """A date and time in the reader's zone, within years that convert to UTC and back
    (:func:`bastion.lib.when.plausible_year`): refused with a message, not a crash further on.
    """

    def clean(self, value: Any) -> datetime | None:
        """The instant, or None when left empty; ValidationError outside the plausible years."""
        instant: datetime | None = super().clean(value)
        if instant is not None and not plausible_year(instant.year):
            raise forms.ValidationError(YEAR_REFUSAL, code="invalid")
        return instant
