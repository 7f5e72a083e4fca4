"""A honeypot field: an input people never see or fill in, and form-filling bots usually do.

It is one cheap signal, not a wall: a bot written for this form will leave it empty. What to do
with a tripped submission is the caller's choice; intake keeps it (marked as likely spam) rather
than dropping it, since a false positive would lose a real report (DESIGN.md section 5).

The field is hidden with CSS (``.hp`` in ``static/intake/intake.css``), not ``type=hidden``,
which bots skip; it is out of the tab order, labelled for the rare person who reaches it with
assistive technology, and has autocomplete off so a password manager does not fill it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

# A name that form-filling bots find irresistible and browsers do not autofill with autocomplete off.
HONEYPOT_FIELD = "website"


def honeypot_tripped(data: Mapping[str, Any]) -> bool:
    """True if the honeypot field in ``data`` (a QueryDict, a form's data, a JSON body) was filled."""
    value = data.get(HONEYPOT_FIELD)
    if isinstance(value, list | tuple):  # a JSON body, or QueryDict.lists(), may give several
        return any(str(item).strip() for item in value)
    return value is not None and str(value).strip() != ""


class HoneypotMixin(forms.Form):
    """Adds the honeypot field to a form; ``form.is_bot`` says whether it was filled.

    Valid either way (a bot gets no hint of which field gave it away); the view decides.
    """

    website = forms.CharField(
        required=False,
        label="Leave this field empty",
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1", "class": "hp-input"}),
    )

    @property
    def is_bot(self) -> bool:
        """Whether the honeypot was filled in (on bound forms; False for unbound ones)."""
        return self.is_bound and honeypot_tripped(self.data)
