"""The forms on a report page: reply, internal note, status change (the inbox's filters: filters.py).

The forms only shape input; every rule about content (length, required body) and about moves
between states lives in the reports services, whose refusals the views put back on the form.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.core.files.uploadedfile import UploadedFile

from bastion.accounts.models import User
from bastion.reports.workflow import Status
from bastion.triage.models import CannedResponse

MAX_FILES = 10
# Staff attach screenshots, patches, logs: generous, but a bound so one slip cannot fill the disk.
MAX_FILE_BYTES = 50 * 1024 * 1024
BODY_ROWS = 8


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
    """A status change: the message the reporter gets with it, and an optional internal note.

    Any status validates here: whether the move is allowed is the workflow's question, asked by the
    service against the report as it is *now* (another triager may have moved it since this page
    was rendered). The page offers only the allowed moves, via :meth:`offer`. ``version`` is the
    report's version when the page was drawn: a change made meanwhile makes this one stale.
    The message starts from the team's canned response for the chosen status (``status.js``
    swaps it in); left empty, the default canned response for that status is sent.
    """

    id_prefix = "status"

    to = forms.ChoiceField(label="New status", choices=Status.choices)
    reporter_message = forms.CharField(
        label="Message to the reporter",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": BODY_ROWS}),
        help_text="Markdown, from the canned response for the new status: edit it before sending. "
        "Left empty, the canned response is sent as it is.",
    )
    notify_reporter = forms.BooleanField(
        label="Send this message to the reporter", required=False, initial=True
    )
    note = forms.CharField(
        label="Why (internal note, optional)",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def offer(self, moves: Sequence[Status]) -> StatusForm:
        """Show only ``moves`` in the select (the workflow's ``allowed_next``); returns the form."""
        field = self.fields["to"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(move.value, move.label) for move in moves]
        return self


class CannedResponseForm(forms.ModelForm):
    """A canned response as the team writes it: the status it is for, a title, the text.

    "Default" is a plain form field, not the model's: the model allows one default per status,
    and marking this one is how staff move the default here (save_canned_response does the move).
    """

    make_default = forms.BooleanField(label="Pre-fill the status form with this one", required=False)

    class Meta:
        model = CannedResponse
        fields = ["status", "title", "body"]
        help_texts = {"body": "Markdown. {tracking_id} is replaced by the report's tracking ID."}
        widgets = {"body": forms.Textarea(attrs={"rows": BODY_ROWS})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["make_default"].initial = self.instance.is_default

    def canned(self) -> CannedResponse:
        """The unsaved response with the default flag applied; call after ``is_valid()``."""
        self.instance.is_default = self.cleaned_data["make_default"]
        return self.instance


class AssignForm(PageForm):
    """Give the report to a triager or admin (empty: nobody)."""

    id_prefix = "assign"

    assignee = forms.ModelChoiceField(
        queryset=User.objects.none(), required=False, empty_label="Nobody", label="Assignee"
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["assignee"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = User.objects.assignable()


class RotaForm(forms.Form):
    """One person's place in the rota: on duty or not, and who backs them up."""

    on_duty = forms.BooleanField(required=False, label="On duty (gets new reports round-robin)")
    backup = forms.ModelChoiceField(queryset=User.objects.none(), required=False, empty_label="Nobody")

    def __init__(self, *args: Any, member: User, **kwargs: Any) -> None:
        kwargs.setdefault("prefix", f"m{member.pk}")
        super().__init__(*args, **kwargs)
        field = self.fields["backup"]
        assert isinstance(field, forms.ModelChoiceField)
        staff = User.objects.assignable()
        field.queryset = staff.exclude(pk=member.pk)


class PublicBugForm(PageForm):
    """Hand the report over as a public bug: the message the reporter gets with the closure."""

    id_prefix = "public_bug"

    reporter_message = forms.CharField(
        label="Message to the reporter with the hand-over",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Left empty, the canned response for Informative is sent.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)
