"""Scoring and classifying a report, and the two look-ups the panel's widgets ask as staff type.

The look-ups (CWE search, CVSS score) read only Bastion's bundled data and the vector sent; they
open no report, so they record nothing. Only triagers and admins reach them, like every triage view.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from bastion.accounts.permissions import triager_required
from bastion.reports.cwe import search_cwe
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.scoring import score_vector
from bastion.reports.services.scoring import UNCHANGED, classify_report
from bastion.triage.access import report_for
from bastion.triage.scoring_forms import ScoringForm
from bastion.triage.views.report import client_ip, render_report

SEARCH_LIMIT = 20
MAX_QUERY = 200


@never_cache
@triager_required
@require_POST
def classify(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Save the scoring panel: vectors, CWE, severity (override with a reason), asset, labels."""
    report = report_for(request.user, tracking_id)
    form = ScoringForm(request.POST, report=report)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            classify_report(
                report=report,
                actor=request.user,
                cvss_v3=data["cvss_v3"],
                cvss_v4=data["cvss_v4"],
                cwe_id=data["cwe_id"] or None,
                severity=data["severity"] or None,
                # Empty: an override already in place keeps its reason (the service decides).
                severity_reason=data["severity_reason"] if data["severity_reason"].strip() else UNCHANGED,
                asset=data["asset"],
                labels=data["labels"],
                expected_version=data["version"],
                ip=client_ip(request),
            )
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except ReportRejected as error:
            form.add_error(error.field if error.field in form.fields else None, error.messages)
        else:
            messages.success(request, "Score and classification saved.")
            url = reverse("triage:report", args=[report.tracking_id])
            return HttpResponseRedirect(f"{url}#scoring", status=303)
    messages.error(request, "The classification was not saved: see the scoring form.")
    return render_report(request, report, bound={"scoring": form}, status=status)


@never_cache
@triager_required
@require_GET
def cwe_search(request: HttpRequest) -> HttpResponse:
    """``?q=79`` or ``?q=path traversal``: matching CWE weaknesses as a JSON list (at most 20)."""
    query = request.GET.get("q", "")[:MAX_QUERY]
    found = search_cwe(query, limit=SEARCH_LIMIT)
    return JsonResponse([{"id": w.id, "label": w.label, "name": w.name} for w in found], safe=False)


@never_cache
@triager_required
@require_GET
def cvss_score(request: HttpRequest) -> HttpResponse:
    """``?vector=CVSS:3.1/...`` (or 4.0): its score and severity as JSON, or 400 with the reason."""
    try:
        scored = score_vector(request.GET.get("vector", ""))
    except ReportRejected as error:
        return JsonResponse({"error": error.messages[0]}, status=400)
    return JsonResponse(
        {
            "version": scored.version,
            "vector": scored.vector,
            "score": str(scored.score),
            "severity": scored.severity.value,
            "severity_label": scored.severity.label,
        }
    )
