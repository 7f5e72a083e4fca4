"""``{% report_credits report %}``: the credit ledger's panel on the triage report page.

Triage may not import disclosure, so the panel comes in as a template tag: one ``{% load %}`` and
one tag line in ``triage/report.html``. It lists the report's credits (type, public line,
confirmed, published, withdrawn) and links to the credits page, where they are added, corrected
and withdrawn.
"""

from __future__ import annotations

from typing import Any

from django import template

from bastion.reports.access import may_see
from bastion.reports.models import Report
from bastion.reports.services import credits

register = template.Library()


@register.inclusion_tag("disclosure/credit_panel.html", takes_context=True)
def report_credits(context: template.Context, report: Report) -> dict[str, Any]:
    """The panel's context: the report's credits, opened for the signed-in staff member.

    Nothing for someone who may not see the report, or for a shredded one. On the report page the
    read of the reporter's details was just audited (``opened`` in the context is that read), so
    listing their credit there records no second row; anywhere else it is an audited read.
    """
    request = context.get("request")
    user = getattr(request, "user", None)
    if user is None or not may_see(user, report) or report.data_key.is_destroyed:
        return {"report": report, "visible": False}
    opened = context.get("opened")
    within_read = getattr(getattr(opened, "report", None), "pk", None) == report.pk
    rows = credits.report_credits(report=report, actor=user, already_audited=within_read)
    return {"report": report, "visible": True, "credits": rows}
