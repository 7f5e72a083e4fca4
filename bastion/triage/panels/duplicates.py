"""The duplicates panel on the report page: the link to the original or to the duplicates, and the mark form.

The panel runs no search: comparing a report with thousands of others is an audited read of every
one of them, so it happens only when staff ask for it ("Find duplicates", its own page). The mark
form is offered only when the workflow lets the report move to *duplicate* from where it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.http import HttpRequest

from bastion.reports.access import only_visible
from bastion.reports.models import Report
from bastion.reports.services.duplicates import duplicates_of, is_duplicate
from bastion.reports.workflow import Status, can_transition
from bastion.triage.access import reports_for
from bastion.triage.canned import default_message
from bastion.triage.forms import BODY_ROWS, PageForm

PANEL = "duplicates"


class MarkDuplicateForm(PageForm):
    """Mark this report a duplicate of an earlier one, with the message its reporter gets.

    The message starts from the team's default canned response for *duplicate*; the service adds
    the facts after it (which report came first, when, and its signed receipt). ``version`` is the
    report's version when the page was drawn: a change made meanwhile makes this one stale.
    """

    id_prefix = "duplicate"

    original = forms.CharField(
        label="Original report (tracking ID)",
        max_length=16,
        help_text="The report that came first, e.g. BST-7K2M9Q4R1D.",
        error_messages={"required": "Give the tracking ID of the report this one duplicates."},
    )
    share_credit = forms.BooleanField(label="This reporter shares the original's credit", required=False)
    reporter_message = forms.CharField(
        label="Message to the reporter",
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": BODY_ROWS}),
        help_text="Markdown. Which report came first, when, and its signed receipt are added after it.",
    )
    version = forms.IntegerField(widget=forms.HiddenInput, min_value=1)

    def clean_original(self) -> str:
        return str(self.cleaned_data["original"]).strip().upper()


def blank_form(report: Report, *, original: str = "") -> MarkDuplicateForm:
    """The mark form as first drawn: the default canned message, the report's current version."""
    initial = {
        "original": original,
        "version": report.version,
        "reporter_message": default_message(Status.DUPLICATE, tracking_id=report.tracking_id),
    }
    return MarkDuplicateForm(initial=initial)


@dataclass
class DuplicatesPanel:
    """What ``triage/panels/duplicates.html`` draws."""

    can_mark: bool
    form: forms.Form
    original: Report | None
    credit_shared: bool
    duplicates: list[Report] = field(default_factory=list)


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/duplicates.html``: ``duplicates_panel``."""
    duplicate = is_duplicate(report)
    # Only reports the viewer may see are named: an embargoed original or duplicate stays unnamed.
    visible = reports_for(request.user)
    original = visible.filter(duplicates=report).first() if duplicate else None
    panel = DuplicatesPanel(
        can_mark=can_transition(report.status, Status.DUPLICATE),
        form=bound.get(PANEL) or blank_form(report),
        original=original,
        credit_shared=duplicate and report.duplicate_credit,
        duplicates=list(only_visible(duplicates_of(report), request.user)),
    )
    return {"duplicates_panel": panel}
