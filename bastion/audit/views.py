"""The admin-only audit screen: browse and filter the trail, and verify the chain on demand.

Permission: signed-in staff with the admin role. When ``bastion.accounts.permissions`` lands,
``login_required`` + :func:`_require_admin` can become its ``admin_required`` decorator.
"""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from bastion.audit.events import Event
from bastion.audit.forms import AuditFilterForm
from bastion.audit.models import AuditEvent
from bastion.audit.services import record, verify_and_record

PAGE_SIZE = 50
_VERIFICATION_EVENTS = (Event.AUDIT_VERIFIED, Event.AUDIT_TAMPERING_DETECTED)


def _require_admin(request: HttpRequest) -> None:
    # The audit trail shows who did what to whom, and typed logins: admins only.
    if not getattr(request.user, "is_admin", False):
        raise PermissionDenied


@login_required
@require_GET
def events(request: HttpRequest) -> HttpResponse:
    """List audit events, newest first, 50 a page, filtered by the form; the viewing is audited."""
    _require_admin(request)
    # Always bound (every field is optional), so "no filters" is simply a valid, empty form.
    form = AuditFilterForm(request.GET)
    page = None
    # Bad filters show their errors and no list: an unfiltered list would pass for the answer.
    if form.is_valid():
        page = Paginator(form.filter(AuditEvent.objects.all()), PAGE_SIZE).get_page(request.GET.get("page"))
        # Load the page before recording the view, so the count and the rows describe one moment.
        list(page)
        record(
            event=Event.AUDIT_VIEWED,
            actor=request.user,
            data={"filters": form.applied(), "page": page.number},
            ip=get_client_ip_address(request),
        )
    last_check = AuditEvent.objects.filter(event__in=_VERIFICATION_EVENTS).first()
    return render(request, "audit/events.html", {"form": form, "page": page, "last_check": last_check})


@login_required
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    """Walk the whole chain now (a POST: it writes its own audit event) and report the outcome."""
    _require_admin(request)
    result = verify_and_record(actor=request.user, ip=get_client_ip_address(request))
    if result.ok:
        messages.success(request, f"Audit chain intact: {result.checked} events.")
    else:
        messages.error(request, f"Audit chain BROKEN at event #{result.first_bad_id}: {result.reason}")
    return redirect("audit:events")
