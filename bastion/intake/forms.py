"""Forms for intake's pages. They validate input; services make the changes."""

from __future__ import annotations

from typing import Any

from django import forms

from bastion.intake.models import Policy

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
