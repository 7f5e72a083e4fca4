"""Form fields the disclosure pages share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms


class InstantField(forms.DateTimeField):
    """A date and time in the reader's zone, within years that convert to UTC and back.

    Django accepts year 9999, whose late hours overflow when converted to UTC from a zone west
    of it: refused here with a message, not a crash further on.
    """

    def clean(self, value: Any) -> datetime | None:
        """The instant, or None when left empty; ValidationError outside 1971 to 8999."""
        instant: datetime | None = super().clean(value)
        if instant is not None and not 1970 < instant.year < 9000:
            raise forms.ValidationError("Give a year between 1971 and 8999.", code="invalid")
        return instant
