"""The scoring panel's form: CVSS vectors, CWE, severity override, asset and labels.

It only shapes input. Whether a vector is valid, a CWE exists, a label is well formed or an
override has its reason is the reports service's question (``classify_report``), whose refusals
the view puts back beside the field they name. The field names are the service's, so that works.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import Q

from bastion.reports.models import Asset, Report, Severity
from bastion.reports.scoring import V3_MAX_LENGTH, V4_MAX_LENGTH
from bastion.reports.services.scoring import MAX_REASON
from bastion.triage.forms import PageForm

FOLLOW_SCORE = ""


def _vector_field(version: str, *, max_length: int, help_text: str) -> forms.CharField:
    """An optional CVSS ``version`` vector, typed as code; ``data-cvss`` is how the page's script finds it."""
    attrs = {"class": "mono", "spellcheck": "false", "autocomplete": "off", "data-cvss": version}
    return forms.CharField(
        label=f"CVSS {version} vector",
        required=False,
        max_length=max_length,
        widget=forms.TextInput(attrs=attrs),
        help_text=help_text,
    )


class ScoringForm(PageForm):
    """Score and classify one report. ``version`` is the report's version when the page was drawn."""

    id_prefix = "scoring"

    cvss_v3 = _vector_field(
        "3.1",
        max_length=V3_MAX_LENGTH,
        help_text="For example CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H. Empty to remove it.",
    )
    cvss_v4 = _vector_field(
        "4.0",
        max_length=V4_MAX_LENGTH,
        help_text="When set, its score decides the severity (CVSS 4.0 supersedes 3.1).",
    )
    cwe_id = forms.CharField(
        label="CWE",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "CWE-79"}),
        help_text="A number such as CWE-79; type words to search the list.",
    )
    severity = forms.ChoiceField(
        label="Severity",
        required=False,
        choices=[(FOLLOW_SCORE, "Follow the score"), *Severity.choices],
        help_text="Choose one only to override the score.",
    )
    severity_reason = forms.CharField(
        label="Why (needed to override)",
        required=False,
        max_length=MAX_REASON,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Staff only, kept encrypted. Left empty, an override already in place keeps its reason.",
    )
    asset = forms.ModelChoiceField(
        label="Asset", queryset=Asset.objects.none(), required=False, empty_label="No asset"
    )
    labels = forms.CharField(
        label="Labels",
        required=False,
        max_length=1000,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "needs-poc, payments"}),
        help_text="Comma-separated; a new name creates the label.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def __init__(self, *args: Any, report: Report, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["asset"]
        assert isinstance(field, forms.ModelChoiceField)
        # Current assets, plus the report's own even if archived since, so saving other fields
        # does not force a new asset.
        field.queryset = Asset.objects.filter(Q(archived=False) | Q(pk=report.asset_id)).order_by("name")

    @classmethod
    def for_report(cls, report: Report) -> ScoringForm:
        """The form filled in with the report as it is now."""
        initial = {
            "cvss_v3": report.cvss_v3,
            "cvss_v4": report.cvss_v4,
            "cwe_id": f"CWE-{report.cwe_id}" if report.cwe_id else "",
            "severity": report.severity if report.severity_overridden else FOLLOW_SCORE,
            "asset": report.asset_id,
            "labels": ", ".join(report.labels.values_list("name", flat=True)),
            "version": report.version,
        }
        return cls(initial=initial, report=report)

    def clean_labels(self) -> list[str]:
        """The names between the commas (the service checks each)."""
        return [name.strip() for name in self.cleaned_data["labels"].split(",") if name.strip()]
