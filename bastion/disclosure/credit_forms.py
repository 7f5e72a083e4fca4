"""The staff forms of the credit ledger and the Hall of Thanks import: shape and size only.

What a credit may be (a name for "by name", an https link) is the credits service's to decide, and
what a thanks line may be the thanks service's; their refusals are shown beside the field.
"""

from __future__ import annotations

from typing import Any

from django import forms

from bastion.reports.models.credit import Appearance, CreditType
from bastion.reports.services import credits

# A Hall of Thanks file is a list of names: a megabyte holds tens of thousands of them.
MAX_THANKS_UPLOAD = 1024 * 1024


class _PersonFields(forms.Form):
    """Who a credit names, and how they appear."""

    appearance = forms.ChoiceField(label="Appears", choices=Appearance.choices, initial=Appearance.NAME)
    name = forms.CharField(label="Name", required=False, max_length=credits.MAX_NAME)
    handle = forms.CharField(label="Handle", required=False, max_length=credits.MAX_HANDLE)
    link = forms.CharField(
        label="Link",
        required=False,
        max_length=credits.MAX_LINK,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
    )


class AddCreditForm(_PersonFields):
    """Credit someone on a report, or record another credit type for its reporter."""

    credit_type = forms.ChoiceField(
        label="Credit type", choices=CreditType.choices, initial=CreditType.ANALYST
    )
    for_reporter = forms.BooleanField(
        label="This is the reporter (they keep choosing how they appear; name fields are ignored)",
        required=False,
    )
    field_order = ["credit_type", "for_reporter", "appearance", "name", "handle", "link"]

    def person(self) -> credits.CreditPerson:
        """The person typed in, for ``add_credit``."""
        data = self.cleaned_data
        return credits.CreditPerson(name=data["name"], handle=data["handle"], link=data["link"])


class CorrectCreditForm(_PersonFields):
    """Correct a disputed credit; the reason is kept (sealed) with its history."""

    credit_type = forms.ChoiceField(label="Credit type", choices=CreditType.choices)
    reason = forms.CharField(
        label="Why this correction",
        max_length=credits.MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the credit's history, for staff only.",
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)
    field_order = ["credit_type", "appearance", "name", "handle", "link", "reason"]

    @classmethod
    def showing(cls, opened: credits.OpenedCredit, data: Any = None) -> CorrectCreditForm:
        """The form filled with the credit as it stands (``data``: a POST to bind instead)."""
        person = opened.person
        initial = {
            "credit_type": opened.credit.credit_type,
            "appearance": opened.credit.appearance,
            "name": person.name,
            "handle": person.handle,
            "link": person.link,
            "version": opened.credit.version,
        }
        return cls(data, initial=initial)

    def changes(self, opened: credits.OpenedCredit) -> dict[str, str]:
        """What differs from the credit as it stands: what ``correct_credit`` takes."""
        current = {
            "credit_type": opened.credit.credit_type,
            "appearance": opened.credit.appearance,
            **opened.person.to_json(),
        }
        return {
            name: self.cleaned_data[name]
            for name in credits.CORRECTABLE
            if self.cleaned_data[name] != current[name]
        }


class WithdrawCreditForm(forms.Form):
    """Withdraw a credit, with the reason."""

    reason = forms.CharField(
        label="Why withdraw it",
        max_length=credits.MAX_REASON,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Kept in the credit's history, for staff only.",
    )
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class ThanksImportForm(forms.Form):
    """Past Hall of Thanks entries: a text or CSV file, or the same pasted."""

    file = forms.FileField(label="File (text or CSV)", required=False)
    text = forms.CharField(
        label="Or paste the list",
        required=False,
        max_length=MAX_THANKS_UPLOAD,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 14, "spellcheck": "false"}),
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        upload = cleaned.get("file")
        if upload is not None:
            if (upload.size or 0) > MAX_THANKS_UPLOAD:
                self.add_error("file", "The file is over 1 MB: split it and import each part.")
                return cleaned
            raw = upload.read()
            try:
                cleaned["text"] = raw.decode("utf-8-sig")
            except UnicodeDecodeError:
                self.add_error("file", "The file is not UTF-8 text: save it as UTF-8 and upload it again.")
                return cleaned
            # Shown again in the text box, so a refused import keeps what was sent.
            self.data = {**self.data, "text": cleaned["text"]}
        elif not (cleaned.get("text") or "").strip() and not self.errors:
            raise forms.ValidationError("Choose a file or paste the list to import.", code="empty")
        return cleaned
