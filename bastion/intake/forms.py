"""Forms for intake's pages. They validate input; services make the changes."""

from __future__ import annotations

from typing import Any

from django import forms

from bastion.intake.honeypot import HoneypotMixin
from bastion.intake.models import Policy
from bastion.reports.models import CreditPreference

_MARKDOWN_HELP = (
    "Markdown: **bold**, _italic_, lists, tables, `code`, and links to http, https or mailto "
    "addresses. HTML is shown as text, and images as links."
)


class PolicyForm(forms.ModelForm):
    """The editable fields of a policy version; saving publishes a new version (never edits one)."""

    class Meta:
        model = Policy
        fields = [
            "title",
            "body",
            "scope",
            "safe_harbor",
            "first_response_hours",
            "triage_days",
            "fix_targets",
        ]
        labels = {
            "body": "Policy",
            "scope": "Scope",
            "safe_harbor": "Safe harbor",
            "first_response_hours": "First response target (hours)",
            "triage_days": "Triage target (days)",
            "fix_targets": "Fix targets by severity",
        }
        help_texts = {
            "body": _MARKDOWN_HELP,
            "scope": "What is in and out of scope. " + _MARKDOWN_HELP,
            "safe_harbor": "The legal promise to researchers (disclose.io style). " + _MARKDOWN_HELP,
            "first_response_hours": "How soon a person answers a new report.",
            "triage_days": "How soon a report is assessed.",
            "fix_targets": "One line per severity. " + _MARKDOWN_HELP,
        }
        widgets = {
            "body": forms.Textarea(attrs={"rows": 24}),
            "scope": forms.Textarea(attrs={"rows": 12}),
            "safe_harbor": forms.Textarea(attrs={"rows": 12}),
            "fix_targets": forms.Textarea(attrs={"rows": 6}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class MultipleFileInput(forms.ClearableFileInput):
    """A file input that accepts several files at once."""

    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Zero or more files; cleans to a list. Sizes and count are checked by intake's limits."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> list[Any]:
        """Every file, each through FileField's own checks (an empty file name, say)."""
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files if item]


def _required(label: str) -> dict[str, str]:
    return {"required": f"{label} is required."}


class ReportForm(HoneypotMixin, forms.Form):
    """The public report form. It checks presence only; the reports service validates the rest,
    and its field-keyed errors (ReportRejected) land beside the fields named here the same way."""

    title = forms.CharField(
        error_messages=_required("Title"), help_text="One line: what is wrong, and where."
    )
    description = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 10}),
        error_messages=_required("Description"),
        help_text=_MARKDOWN_HELP,
    )
    product = forms.CharField(
        required=False, label="Product or asset", help_text="A host, URL, app or package."
    )
    version = forms.CharField(required=False)
    steps = forms.CharField(
        required=False,
        label="Steps to reproduce / proof of concept",
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    impact = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    attachments = MultipleFileField(required=False, help_text="Screenshots, logs, PoC code. Several at once.")
    reporter_name = forms.CharField(required=False, label="Your name")
    reporter_handle = forms.CharField(required=False, label="Your handle")
    email = forms.CharField(
        required=False,
        label="Your e-mail address",
        widget=forms.EmailInput(),
        help_text="Optional: leave it empty to report anonymously (keep the tracking link we show you).",
    )
    public_key = forms.CharField(
        required=False,
        label="Your OpenPGP public key",
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="Optional, ASCII-armored. With it, every e-mail we send you is encrypted.",
    )
    credit_preference = forms.ChoiceField(
        choices=CreditPreference.choices,
        initial=CreditPreference.ANONYMOUS,
        widget=forms.RadioSelect,
        label="How should we credit you?",
    )
    form_token = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


class LinksForm(forms.Form):
    """ "Email me my links": just the address."""

    email = forms.CharField(label="Your e-mail address", widget=forms.EmailInput(), max_length=254)
