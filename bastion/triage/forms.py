"""The inbox filter and the three forms on a report page: reply, internal note, status change.

The forms only shape input; every rule about content (length, required body) and about moves
between states lives in the reports services, whose refusals the views put back on the form.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from bastion.reports.workflow import Status

MAX_FILES = 10
# Staff attach screenshots, patches, logs: generous, but a bound so one slip cannot fill the disk.
MAX_FILE_BYTES = 50 * 1024 * 1024
BODY_ROWS = 8


class InboxFilterForm(forms.Form):
    """Narrow the inbox by status; every field is optional, so an empty form lists everything."""

    status = forms.ChoiceField(choices=[("", "Any status"), *Status.choices], required=False)


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that accepts several files at once."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files, each checked as a FileField would check one; a list of uploads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[UploadedFile]:
        items = data if isinstance(data, list | tuple) else [data]
        files = [super(MultipleFileField, self).clean(item, initial) for item in items if item]
        if len(files) > MAX_FILES:
            raise forms.ValidationError(f"Attach at most {MAX_FILES} files at a time.")
        for upload in files:
            if upload.size is not None and upload.size > MAX_FILE_BYTES:
                limit = MAX_FILE_BYTES // (1024 * 1024)
                raise forms.ValidationError(f"{upload.name} is over {limit} MB; share it another way.")
        return files


class PageForm(forms.Form):
    """A form sharing the report page with others: its element ids carry its own prefix.

    Reply and note both have a ``body``; without this both textareas would be ``id_body`` and
    each label would point at the first one. Field *names* stay plain, so posts stay simple.
    """

    id_prefix = "form"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class ReplyForm(PageForm):
    """A public reply to the reporter, in Markdown, with optional files."""

    id_prefix = "reply"

    body = forms.CharField(
        label="Reply to the reporter",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": BODY_ROWS}),
        help_text="Markdown. The reporter is told by email; clear mail never carries the text.",
    )
    attachments = MultipleFileField(label="Files", required=False)

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if not (cleaned.get("body") or "").strip() and not cleaned.get("attachments") and not self.errors:
            raise forms.ValidationError("Write a reply or attach a file.", code="empty")
        return cleaned


class NoteForm(PageForm):
    """An internal note: staff only, never shown or mailed to the reporter."""

    id_prefix = "note"

    body = forms.CharField(
        label="Internal note",
        strip=False,
        widget=forms.Textarea(attrs={"rows": BODY_ROWS // 2}),
        help_text="Markdown. Only the security team sees this.",
        error_messages={"required": "Write the note first."},
    )


class StatusForm(PageForm):
    """A status change, with an optional internal note saying why.

    Any status validates here: whether the move is allowed is the workflow's question, asked by the
    service against the report as it is *now* (another triager may have moved it since this page
    was rendered). The page offers only the allowed moves, via :meth:`offer`.
    """

    id_prefix = "status"

    to = forms.ChoiceField(label="New status", choices=Status.choices)
    note = forms.CharField(
        label="Why (internal note, optional)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def offer(self, moves: list[Status]) -> StatusForm:
        """Show only ``moves`` in the select (the workflow's ``allowed_next``); returns the form."""
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(move.value, move.label) for move in moves]
        return self
