"""The scoring panel on the report page: score, severity, CWE, asset and labels, and the form to set them.

The override reason is opened here for the staff member already reading the report: the page's
one opening (``open_report``) is the audited read, and the reason is part of what it shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms
from django.http import HttpRequest

from bastion.reports.cwe import weakness
from bastion.reports.models import Report
from bastion.reports.scoring import severity_for, v3_base_metrics
from bastion.reports.services.scoring import opened_severity_reason
from bastion.triage.scoring_forms import ScoringForm


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/scoring.html``."""
    from_score = severity_for(report.cvss_score)
    return {
        "scoring_form": bound.get("scoring") or ScoringForm.for_report(report),
        "scored_by": "4.0" if report.cvss_v4 else "3.1" if report.cvss_v3 else "",
        "score_severity": from_score.label if from_score else "",
        "severity_reason": opened_severity_reason(report=report, actor=request.user),
        "cwe": weakness(report.cwe_id) if report.cwe_id else None,
        "report_labels": list(report.labels.all()),
        "cvss_v3_metrics": v3_base_metrics(),
    }
