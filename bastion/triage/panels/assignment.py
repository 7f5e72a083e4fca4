"""The assignment panel: who has the report and who backs them up; and the public-bug hand-over."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest

from bastion.reports.models import Report
from bastion.reports.services.public_bug import can_hand_over
from bastion.triage.forms import AssignForm, PublicBugForm


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/assignment.html``."""
    form = bound.get("assignment") or AssignForm(
        initial={"assignee": report.assignee_id, "version": report.version}
    )
    assignee = report.assignee
    public_bug = bound.get("public_bug") or PublicBugForm(initial={"version": report.version})
    return {
        "assign_form": form,
        "assignee": assignee,
        "backup": assignee.backup if assignee else None,
        "public_bug_form": public_bug,
        "can_hand_over": can_hand_over(report),
    }
