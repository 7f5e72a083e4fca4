"""The deletion request on the report page: its state for everyone, approve or refuse for admins.

Thin views: load the report through ``triage.access``, call one ``reports.services.shredding``
function, redirect back to the panel. Approving shreds the report at once (it cannot be undone);
refusing needs a reason, which the reporter reads in the portal. A refusal by the service (no
request pending any more, a blank reason) re-renders the page with the error in the panel and the
typed reason kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import admin_required, is_admin
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Report
from bastion.reports.services import OpenedReport, approve_deletion, refusal_reason, refuse_deletion
from bastion.reports.services.shredding import MAX_REFUSAL
from bastion.triage.access import report_for

PANEL = "deletion"


class RefusalForm(forms.Form):
    """Why the report is kept: the reporter reads this in the portal."""

    reason = forms.CharField(
        label="Reason (the reporter reads this)",
        max_length=MAX_REFUSAL,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="For example: a fix is still in progress, or a legal obligation to keep it. No secrets.",
    )


@dataclass(frozen=True)
class DeletionPanel:
    """The deletion request's state, as the panel shows it."""

    requested_at: datetime
    decided_at: datetime | None
    decided_by: User | None
    refused: bool
    reason: str | None = field(repr=False)
    can_decide: bool
    refusal_form: RefusalForm


def deletion_context(
    request: HttpRequest, report: Report, *, opened: OpenedReport | None, bound: Mapping[str, forms.Form]
) -> dict[str, Any]:
    """The panel's context (``deletion``: None without a request). ``opened`` is the page's audited
    read; the refusal's reason is opened within it (a tombstone has none: nothing can be opened).
    """
    if report.deletion_requested_at is None:
        return {PANEL: None}
    refused = report.deletion_decided_at is not None and report.deletion_refusal is not None
    bound_form = bound.get(PANEL)
    panel = DeletionPanel(
        requested_at=report.deletion_requested_at,
        decided_at=report.deletion_decided_at,
        decided_by=report.deletion_decided_by,
        refused=refused,
        reason=refusal_reason(opened) if refused and opened is not None else None,
        can_decide=report.deletion_decided_at is None and is_admin(request.user),
        refusal_form=bound_form if isinstance(bound_form, RefusalForm) else RefusalForm(),
    )
    return {PANEL: panel}


@never_cache
@admin_required
@require_POST
def approve(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Grant the reporter's deletion request: the report's content is destroyed now, for good."""
    # Imported here: report.py imports this module for the panel's context.
    from bastion.triage.views.report import back_to, client_ip, render_report

    report = report_for(request.user, tracking_id)
    try:
        approve_deletion(report=report, actor=request.user, ip=client_ip(request))
    except ReportRejected as error:
        messages.error(request, " ".join(error.messages))
        return render_report(request, report, status=409)
    messages.success(request, f"Deletion approved: the content of {report.tracking_id} was destroyed.")
    return back_to(report, PANEL)


@never_cache
@admin_required
@require_POST
def refuse(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Refuse the deletion request, with a reason the reporter is shown; errors re-show the page."""
    from bastion.triage.views.report import back_to, client_ip, render_report

    report = report_for(request.user, tracking_id)
    form = RefusalForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            refuse_deletion(
                report=report, actor=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request)
            )
        except ReportRejected as error:
            form.add_error(None, error.messages)
            status = 409 if getattr(error, "reason", "") == "decided" else 400
        else:
            messages.success(request, "Deletion refused. The reporter sees your reason in the portal.")
            return back_to(report, PANEL)
    messages.error(request, "The deletion request was not refused: see the deletion panel.")
    return render_report(request, report, bound={PANEL: form}, status=status)
