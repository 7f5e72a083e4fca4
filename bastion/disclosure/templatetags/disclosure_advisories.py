"""The advisories on triage's report page: a side panel listing them, with a button to draft one.

Triage may not import disclosure; its template loads this tag instead (a template is not an
import). The panel shows clear metadata only: identifier, state and dates. A draft's title is
sealed, and opening it here would be a read of every advisory on every report view.
"""

from __future__ import annotations

from typing import Any

from django import template

from bastion.disclosure.services.advisories import advisories_of_report
from bastion.reports.access import may_see
from bastion.reports.models import Report

register = template.Library()


@register.inclusion_tag("disclosure/advisory_report_panel.html", takes_context=True)
def report_advisories(context: template.Context, report: Report) -> dict[str, Any]:
    """The report's advisories the viewer may see (state, planned or published date, link), and
    "Draft an advisory". Nothing for a viewer who may not see the report."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_see(user, report):
        return {"visible": False}
    advisories = list(advisories_of_report(user, report))
    return {
        "visible": True,
        "report": report,
        "advisories": advisories,
        "destroyed": report.data_key.is_destroyed,
    }
