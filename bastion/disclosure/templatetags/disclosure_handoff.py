"""The hand-off on other apps' pages: a panel on triage's report page, and the reporter's view.

Triage and the portal may not import disclosure; their templates load these tags instead (a
template is not an import). Both show clear metadata only: the project, status, dates and IDs, and
which sections went; the packet itself is shown on the hand-off's own page, where opening it is
audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from bastion.disclosure.handoff import SETTLED
from bastion.disclosure.models import Handoff, HandoffStatus
from bastion.disclosure.services.handoff import handoffs_of
from bastion.disclosure.services.upstream import key_status
from bastion.reports.access import may_see
from bastion.reports.models import Report

register = template.Library()

# What the reporter reads for each shared section (the portal timeline's words).
REPORTER_SECTION_NAMES = {
    "summary": "a summary",
    "reproduction": "the steps to reproduce",
    "versions": "the affected versions",
    "impact": "the impact",
}


@register.inclusion_tag("disclosure/_report_handoffs.html", takes_context=True)
def report_handoffs(context: template.Context, report: Report) -> dict[str, Any]:
    """The report page's "Upstream" panel: each hand-off's status, deadline and IDs, and links to
    hand the report over and to each hand-off. Nothing for a user who may not see the report."""
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_see(user, report):
        return {"visible": False}
    handoffs = handoffs_of(report)
    now = timezone.now()
    rows = [
        {
            "handoff": h,
            "key": key_status(h.contact, now),
            "overdue": h.deadline is not None and h.deadline <= now and h.status not in SETTLED,
        }
        for h in handoffs
    ]
    return {"visible": True, "report": report, "rows": rows, "destroyed": report.data_key.is_destroyed}


@register.simple_tag
def reporter_handoffs(report: Report) -> list[dict[str, Any]]:
    """For the reporter's portal: each upstream their report went to, when, what went, whether their
    identity went, and where that upstream is now. States and names only, never packet text."""
    rows = []
    for handoff in Handoff.objects.filter(report=report).select_related("contact").order_by("created_at"):
        forwarded: datetime = handoff.sent_at or handoff.created_at
        rows.append(
            {
                "project": handoff.contact.project,
                "forwarded_at": forwarded,
                "shared": [REPORTER_SECTION_NAMES.get(name, name) for name in handoff.shared],
                "identity_shared": handoff.identity_shared,
                "status": HandoffStatus(handoff.status).label,
                "cve_id": handoff.cve_id,
                "ghsa_id": handoff.ghsa_id,
            }
        )
    return rows
