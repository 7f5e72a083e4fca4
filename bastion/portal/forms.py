"""The portal's forms: shape and size only. What a value must be (a usable key, a known zone) is
the reports services' to decide; their refusals are shown beside the field (``lib.forms.attach_refusal``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.files.uploadedfile import UploadedFile

from bastion.accounts.models import time_zone_names
from bastion.reports.models.credit import Appearance
from bastion.reports.services import IncomingFile, credits

MAX_BODY = 100_000
MAX_KEY = 100_000


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that accepts several files at once."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files, each one checked as a FileField checks one."""

    widget = MultipleFileInput

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        files = data if isinstance(data, list | tuple) else ([data] if data else [])
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


class ReplyForm(forms.Form):
    """A reply to the security team: Markdown text, files, or both."""

    body = forms.CharField(
        label="Your reply",
        required=False,
        max_length=MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text="Markdown works: **bold**, `code`, lists and fenced code blocks.",
    )
    attachments = MultipleFileField(label="Files", required=False)

    def __init__(self, *args: Any, refusals: list[str] | None = None, **kwargs: Any) -> None:
        """``refusals``: files the upload handler already turned away as too large (named, with the
        limit). They make the form invalid, so the reply is not posted without them."""
        super().__init__(*args, **kwargs)
        self.refusals = refusals or []
        # The same limits as the report form: a reply's files are the same kind of evidence.
        self.max_files = int(settings.INTAKE_MAX_ATTACHMENTS)
        self.max_bytes = int(settings.INTAKE_MAX_ATTACHMENT_BYTES)
        self.fields[
            "attachments"
        ].help_text = f"Up to {self.max_files} files, {self.max_bytes // (1024 * 1024)} MB each."

    def clean_attachments(self) -> list[UploadedFile]:
        files: list[UploadedFile] = self.cleaned_data.get("attachments") or []
        if self.refusals:
            raise forms.ValidationError(self.refusals)
        if len(files) > self.max_files:
            raise forms.ValidationError(f"Attach at most {self.max_files} files; you chose {len(files)}.")
        for upload in files:
            if (upload.size or 0) > self.max_bytes:
                limit = self.max_bytes // (1024 * 1024)
                raise forms.ValidationError(f"{upload.name} is over {limit} MB; send a smaller file.")
        return files

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("body") or "").strip() and not cleaned.get("attachments") and not self.errors:
            raise forms.ValidationError("Write a message or attach a file before sending.", code="empty")
        return cleaned

    def incoming_files(self) -> list[IncomingFile]:
        """The uploads as the reports services take them (streams, read once, chunk by chunk)."""
        return [
            IncomingFile(filename=upload.name or "", content_type=upload.content_type or "", stream=upload)
            for upload in self.cleaned_data["attachments"]
        ]


class CreditChoiceForm(forms.Form):
    """How the reporter appears in advisories and the Hall of Thanks (``choose_credit`` decides)."""

    appearance = forms.ChoiceField(label="Credit me", choices=Appearance.choices, widget=forms.RadioSelect)
    name = forms.CharField(label="Name to show", required=False, max_length=credits.MAX_NAME)
    handle = forms.CharField(label="Handle to show", required=False, max_length=credits.MAX_HANDLE)
    link = forms.CharField(
        label="Link",
        required=False,
        max_length=credits.MAX_LINK,
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        help_text="Your site or profile, shown with your name or handle when you choose “with a link”.",
    )
    # The version of the credit the reporter was shown: a change since is a stale edit, not a loss.
    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)

    @classmethod
    def showing(cls, credit: credits.ReporterCredit) -> CreditChoiceForm:
        """The form filled with the reporter's current choice."""
        person = credit.person
        initial = {
            "appearance": credit.credit.appearance,
            "name": person.name,
            "handle": person.handle,
            "link": person.link,
            "version": credit.credit.version,
        }
        return cls(initial=initial)


class CreditConfirmForm(forms.Form):
    """The reporter confirms the public line they were shown, at the version they saw."""

    version = forms.IntegerField(min_value=1, widget=forms.HiddenInput)


class PublicKeyForm(forms.Form):
    """The reporter's OpenPGP public key, so our mail to them is encrypted; or its removal."""

    public_key = forms.CharField(
        label="Your OpenPGP public key",
        required=False,
        max_length=MAX_KEY,
        strip=False,  # an armored key is kept exactly as pasted; the service parses it
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "autocomplete": "off"}),
        help_text="Paste the ASCII-armored key (-----BEGIN PGP PUBLIC KEY BLOCK-----).",
    )
    remove = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not cleaned.get("remove") and not (cleaned.get("public_key") or "").strip():
            self.add_error("public_key", "Paste your public key, or use “Remove my key”.")
        return cleaned

    def key_value(self) -> str:
        """What ``update_reporter`` takes: the key, or "" to remove the one we have."""
        return "" if self.cleaned_data.get("remove") else self.cleaned_data["public_key"]


class TimeZoneForm(forms.Form):
    """The zone the reporter reads dates in."""

    time_zone = forms.ChoiceField(label="Time zone", choices=())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["time_zone"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(name, name) for name in time_zone_names()]


class DeletionForm(forms.Form):
    """The confirmation step of a deletion request."""

    confirm = forms.BooleanField(
        label="Yes, I ask for this report and my details to be deleted.",
        error_messages={"required": "Tick the box to confirm that you ask for deletion."},
    )
