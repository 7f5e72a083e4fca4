"""What the disclosure views share: the client's address for the audit trail, and the report loader."""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.http import Http404, HttpRequest

from bastion.reports.access import visible_report
from bastion.reports.models import Report


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the audit trail records it (django-axes reads proxies as configured)."""
    address: str | None = get_client_ip_address(request)
    return address


def report_or_404(request: HttpRequest, tracking_id: str) -> Report:
    """The report if the user may see it; Http404 otherwise (never a 403 that confirms it exists)."""
    report = visible_report(request.user, tracking_id)
    if report is None:
        raise Http404("No such report.")
    return report
