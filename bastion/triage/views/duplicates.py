"""Finding duplicates of a report, and marking it a duplicate of the one that came first.

Thin views: load the report through ``triage.access`` (a report outside the user's scope is a
404), then call one ``reports.services.duplicates`` function. The search decrypts every report in
its pool in memory and is audited once (DUPLICATES_SEARCHED); marking re-renders the report page
with the error in the duplicates panel when the service refuses (400, or 409 for a stale form).
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bastion.accounts.permissions import triager_required
from bastion.lib.forms import attach_refusal
from bastion.reports.errors import StaleEdit
from bastion.reports.services.duplicates import (
    POOL_LIMIT,
    RECENT_DAYS,
    find_duplicate_candidates,
    mark_duplicate,
)
from bastion.reports.workflow import Status, can_transition
from bastion.triage.access import report_for, reports_for
from bastion.triage.panels.duplicates import PANEL, MarkDuplicateForm, blank_form
from bastion.triage.views.report import back_to, client_ip, render_report


@never_cache
@triager_required
@require_GET
def candidates(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The reports most like this one, each with why it matched, and a button to mark it the original."""
    report = report_for(request.user, tracking_id)
    if report.data_key.is_destroyed:  # shredded: nothing left to compare
        return back_to(report, "duplicates")
    found = find_duplicate_candidates(
        report=report, actor=request.user, within=reports_for(request.user), ip=client_ip(request)
    )
    context = {
        "report": report,
        "candidates": found,
        "can_mark": can_transition(report.status, Status.DUPLICATE),
        "form": blank_form(report),
        "recent_days": RECENT_DAYS,
        "pool_limit": f"{POOL_LIMIT:,}",
    }
    return render(request, "triage/duplicates.html", context)


@never_cache
@triager_required
@require_POST
def mark(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Close the report as a duplicate of the form's original; the reporter is told which and when."""
    report = report_for(request.user, tracking_id)
    form = MarkDuplicateForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        original = reports_for(request.user).filter(tracking_id=data["original"]).first()
        if original is None:
            form.add_error("original", f"There is no report {data['original']}: check the tracking ID.")
        else:
            try:
                done = mark_duplicate(
                    report=report,
                    original=original,
                    actor=request.user,
                    reporter_message=data["reporter_message"],
                    share_credit=data["share_credit"],
                    expected_version=data["version"],
                    ip=client_ip(request),
                )
            except StaleEdit as error:
                form.add_error(None, error.messages)
                status = 409
            except ValidationError as error:  # ReportRejected, TransitionRefused: nothing changed
                attach_refusal(form, error, renamed={"body": "reporter_message"})
            else:
                via = "" if done.chosen == done.original else f" ({done.chosen.tracking_id} is itself one)"
                messages.success(
                    request,
                    f"Marked as a duplicate of {done.original.tracking_id}{via}. "
                    "The reporter has been told which report came first and when.",
                )
                url = reverse("triage:report", args=[report.tracking_id])
                return HttpResponseRedirect(f"{url}#{PANEL}", status=303)
    messages.error(request, "The report was not marked as a duplicate: see the duplicates panel.")
    return render_report(request, report, bound={PANEL: form}, status=status)
