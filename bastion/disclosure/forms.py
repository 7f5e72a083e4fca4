"""The advisory forms: drafting from reports, editing every field, review, schedule, republish, withdraw.

They only shape input. Whether a vector is valid, a CWE exists, a CVE ID is well formed, a URL is a
URL or a date is after the embargo is the advisory services' question; their refusals come back
beside the field they name (see ``views.advisories``), with the editor's text kept.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.forms import formset_factory

from bastion.disclosure.content import AdvisoryContent, AffectedPackage
from bastion.disclosure.fields import InstantField
from bastion.disclosure.services.advisories.rules import (
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_SUMMARY,
    MAX_TITLE,
    MAX_VERSION,
    MAX_WORKAROUND,
    OSV_ECOSYSTEMS,
)
from bastion.disclosure.services.advisories.scheduling import MAX_OVERRIDE_REASON
from bastion.reports.cwe import clean_cwe
from bastion.reports.errors import ReportRejected
from bastion.reports.scoring import V3_MAX_LENGTH, V4_MAX_LENGTH

_TRACKING_SPLIT = re.compile(r"[\s,;]+")
MONO = {"class": "mono", "spellcheck": "false", "autocomplete": "off"}


class NewAdvisoryForm(forms.Form):
    """Which reports a new advisory is about, by tracking ID."""

    reports = forms.CharField(
        label="Reports",
        max_length=2000,
        widget=forms.TextInput(attrs={**MONO, "placeholder": "ABCD-1234, EFGH-5678"}),
        help_text="The tracking IDs of the reports it covers, separated by commas or spaces. The draft "
        "starts from the first report's title and the highest-scored report's CVSS vectors and CWE.",
    )

    def clean_reports(self) -> list[str]:
        """The tracking IDs given, upper-cased, each once, in order."""
        ids = [part.upper() for part in _TRACKING_SPLIT.split(self.cleaned_data["reports"]) if part]
        if not ids:
            raise forms.ValidationError("Give at least one tracking ID.")
        return list(dict.fromkeys(ids))


class AffectedForm(forms.Form):
    """One affected product or package: one row of the table."""

    product = forms.CharField(label="Product", required=False, max_length=MAX_NAME)
    vendor = forms.CharField(label="Vendor", required=False, max_length=MAX_NAME)
    ecosystem = forms.ChoiceField(
        label="Ecosystem",
        required=False,
        choices=[("", "Not a package"), *((name, name) for name in OSV_ECOSYSTEMS)],
    )
    package = forms.CharField(
        label="Package", required=False, max_length=MAX_NAME, widget=forms.TextInput(MONO)
    )
    introduced = forms.CharField(
        label="First affected", required=False, max_length=MAX_VERSION, widget=forms.TextInput(MONO)
    )
    fixed = forms.CharField(
        label="Fixed in", required=False, max_length=MAX_VERSION, widget=forms.TextInput(MONO)
    )
    affected_versions = forms.CharField(
        label="Affected versions (as shown)",
        required=False,
        max_length=MAX_VERSION,
        widget=forms.TextInput(MONO),
    )

    def to_package(self) -> AffectedPackage:
        """The row as the content stores it (the service drops a wholly empty row)."""
        data = self.cleaned_data
        return AffectedPackage(
            product=data.get("product", ""),
            vendor=data.get("vendor", ""),
            ecosystem=data.get("ecosystem", ""),
            package=data.get("package", ""),
            introduced=data.get("introduced", "") or "0",
            fixed=data.get("fixed", ""),
            affected_versions=data.get("affected_versions", ""),
        )


# Two blank rows below the filled ones: enough to add a product without script; save to get more.
AffectedFormSet = formset_factory(AffectedForm, extra=2, max_num=50, absolute_max=60)


def _advisory_text(label: str, max_length: int, *, rows: int, help_text: str) -> forms.CharField:
    """A prose field of the advisory: optional, in a text area, passed on as typed.

    Not stripped here: the advisory services clean the text (``rules``), so one rule decides which
    spaces and line breaks are kept, whichever way the text came in.
    """
    return forms.CharField(
        label=label,
        required=False,
        max_length=max_length,
        strip=False,
        widget=forms.Textarea(attrs={"rows": rows}),
        help_text=help_text,
    )


class AdvisoryForm(forms.Form):
    """Every field of an advisory but the affected products (:data:`AffectedFormSet`)."""

    title = forms.CharField(label="Title", max_length=MAX_TITLE)
    summary = _advisory_text(
        "Summary",
        MAX_SUMMARY,
        rows=3,
        help_text="One paragraph: what is affected and what an attacker can do.",
    )
    description = _advisory_text(
        "Description", MAX_DESCRIPTION, rows=12, help_text="Markdown. The details, without an exploit recipe."
    )
    cvss_v3 = forms.CharField(
        label="CVSS 3.1 vector",
        required=False,
        max_length=V3_MAX_LENGTH,
        widget=forms.TextInput(attrs={**MONO, "data-cvss": "3.1"}),
        help_text="For example CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H.",
    )
    cvss_v4 = forms.CharField(
        label="CVSS 4.0 vector",
        required=False,
        max_length=V4_MAX_LENGTH,
        widget=forms.TextInput(attrs={**MONO, "data-cvss": "4.0"}),
        help_text="For example CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N.",
    )
    cwe_id = forms.CharField(
        label="CWE",
        required=False,
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "placeholder": "CWE-79"}),
    )
    cve_id = forms.CharField(
        label="CVE ID",
        required=False,
        max_length=30,
        widget=forms.TextInput(attrs={**MONO, "placeholder": "CVE-2026-12345"}),
        help_text="CVE-YYYY-NNNN (four or more digits). Empty until one is assigned.",
    )
    references = forms.CharField(
        label="References",
        required=False,
        max_length=100_000,
        widget=forms.Textarea(attrs={"rows": 4, **MONO}),
        help_text="One https:// URL per line: the fix, the release notes, the upstream advisory.",
    )
    workaround = _advisory_text(
        "Workaround",
        MAX_WORKAROUND,
        rows=4,
        help_text="Markdown. What users can do before they can upgrade; empty if nothing.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean_cwe_id(self) -> int | None:
        """The CWE number (``79`` or ``CWE-79``), checked against the bundled list."""
        try:
            return clean_cwe(self.cleaned_data["cwe_id"])
        except ReportRejected as error:
            raise forms.ValidationError(error.messages[0]) from error

    @classmethod
    def initial_for(cls, content: AdvisoryContent, version: int) -> dict[str, Any]:
        """The form's initial values for ``content`` at ``version``."""
        return {
            "title": content.title,
            "summary": content.summary,
            "description": content.description,
            "cvss_v3": content.cvss_v3,
            "cvss_v4": content.cvss_v4,
            "cwe_id": f"CWE-{content.cwe_id}" if content.cwe_id else "",
            "cve_id": content.cve_id,
            "references": "\n".join(content.references),
            "workaround": content.workaround,
            "version": version,
        }

    def to_content(self, affected: list[AffectedPackage]) -> AdvisoryContent:
        """The content the form (and the affected rows) describe."""
        data = self.cleaned_data
        return AdvisoryContent(
            title=data["title"],
            summary=data["summary"],
            description=data["description"],
            affected=tuple(affected),
            cvss_v3=data["cvss_v3"],
            cvss_v4=data["cvss_v4"],
            cwe_id=data["cwe_id"],
            cve_id=data["cve_id"],
            references=tuple(line.strip() for line in data["references"].splitlines() if line.strip()),
            workaround=data["workaround"],
        )


def affected_initial(content: AdvisoryContent) -> list[dict[str, str]]:
    """The rows of :data:`AffectedFormSet` for ``content``."""
    return [
        {
            "product": item.product,
            "vendor": item.vendor,
            "ecosystem": item.ecosystem,
            "package": item.package,
            "introduced": "" if item.introduced == "0" else item.introduced,
            "fixed": item.fixed,
            "affected_versions": item.affected_versions,
        }
        for item in content.affected
    ]


class VersionedForm(forms.Form):
    """A form acting on the advisory as its page showed it (``version``: stale actions are refused)."""

    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)


class SendBackForm(VersionedForm):
    """Send an advisory back to its author, saying what to change."""

    reason = forms.CharField(
        label="What needs to change",
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For its author; kept encrypted with the advisory.",
    )


class ScheduleForm(VersionedForm):
    """When to publish: a local date and time, or nothing for the embargo's end."""

    publish_at = InstantField(
        label="Publish at",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
        help_text="In your time zone (set on your profile). Empty: when the embargo ends, or now if none "
        "runs.",
    )
    override_reason = forms.CharField(
        label="Reason to publish before the embargo ends (the lead only)",
        required=False,
        max_length=MAX_OVERRIDE_REASON,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Only an admin may publish before an embargo ends, and must say why; kept encrypted and "
        "audited.",
    )


class RepublishForm(VersionedForm):
    """Republish a published advisory, with the change-log line the public reads."""

    summary = forms.CharField(
        label="What changed (public)",
        max_length=400,
        help_text="One line for the public change log, for example: Fixed versions corrected.",
    )


class WithdrawForm(VersionedForm):
    """Withdraw an advisory, with the public reason."""

    reason = forms.CharField(
        label="Why it is withdrawn (public)",
        max_length=400,
        help_text="Shown on the advisory's page and in every export, for example: Not a vulnerability.",
    )
