"""Downgrading a report to a public bug, and the scrubbed export for the issue tracker."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bastion.accounts.permissions import triager_required
from bastion.reports.errors import ReportRejected, StaleEdit, TransitionRefused
from bastion.reports.services.public_bug import hand_over_as_public_bug, public_bug_export
from bastion.triage.access import report_for
from bastion.triage.canned import default_message
from bastion.triage.forms import PublicBugForm
from bastion.triage.views.report import client_ip, render_report


@never_cache
@triager_required
@require_POST
def hand_over(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Close the report as informative, handed over as a public bug; the reporter gets the message."""
    report = report_for(request.user, tracking_id)
    form = PublicBugForm(request.POST)
    status = 400
    if form.is_valid():
        text = form.cleaned_data["reporter_message"] or default_message(
            "informative", tracking_id=tracking_id
        )
        try:
            hand_over_as_public_bug(
                report=report,
                actor=request.user,
                reporter_message=text,
                expected_version=form.cleaned_data["version"],
                ip=client_ip(request),
            )
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except (TransitionRefused, ReportRejected) as error:
            form.add_error(None, error.messages)
        else:
            messages.success(request, "Closed and handed over as a public bug. Download the export below.")
            url = reverse("triage:report", args=[report.tracking_id])
            return HttpResponseRedirect(f"{url}#public-bug", status=303)
    messages.error(request, "The report was not handed over: see the public bug form.")
    return render_report(request, report, bound={"public_bug": form}, status=status)


@never_cache
@triager_required
@require_GET
def export(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The scrubbed Markdown, as a download (audited as an export and a read)."""
    report = report_for(request.user, tracking_id)
    if report.data_key.is_destroyed:  # shredded: there is no content left to export
        raise Http404("This report's content was destroyed.")
    text = public_bug_export(report=report, actor=request.user, ip=client_ip(request))
    response = HttpResponse(text, content_type="text/markdown; charset=utf-8")
    name = f"{report.tracking_id}-public-bug.md"
    response["Content-Disposition"] = content_disposition_header(True, name) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response
