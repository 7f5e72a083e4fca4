"""The admin-only audit screen: browse and filter the trail, and verify the chain on demand.

Every row of a page is listed; a reference the reader may not see (a report under embargo they
are not granted on) is shown masked, see :mod:`bastion.audit.concealment`.

Permission: signed-in staff with the admin role. When ``bastion.accounts.permissions`` lands,
``login_required`` + :func:`_require_admin` can become its ``admin_required`` decorator.
"""

from __future__ import annotations

from dataclasses import dataclass

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from bastion.audit.chain import canonical_json
from bastion.audit.concealment import Mask, mask_for
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
    rows: list[ShownEvent] = []
    # Bad filters show their errors and no list: an unfiltered list would pass for the answer.
    if form.is_valid():
        mask = mask_for(request.user)
        found = form.filter(AuditEvent.objects.all())
        searched = form.applied()
        found = mask.narrow(
            found,
            by_target="target_type" in searched or "target_id" in searched,
            by_actor="actor" in searched,
        )
        page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
        # Load the page before recording the view, so the count and the rows describe one moment.
        rows = _shown(list(page), mask)
        data: dict[str, object] = {"filters": searched, "page": page.number}
        concealed = sum(row.concealed for row in rows)
        if concealed:
            # The trail says what this reader was shown: every row, some with references masked.
            data["concealed"] = concealed
        record(event=Event.AUDIT_VIEWED, actor=request.user, data=data, ip=get_client_ip_address(request))
    last_check = AuditEvent.objects.filter(event__in=_VERIFICATION_EVENTS).first()
    context = {"form": form, "page": page, "rows": rows, "last_check": last_check}
    return render(request, "audit/events.html", context)


@dataclass(frozen=True)
class ShownEvent:
    """One audit row as this reader sees it: every row is listed, a hidden reference is masked.

    ``target`` is "type:id", or the concealer's label ("a report under embargo") in its place;
    ``details`` is the data as compact JSON with hidden identifiers replaced by that label.
    """

    event: AuditEvent
    actor: str
    actor_id: str
    target: str
    target_hidden: bool
    details: str
    concealed: bool


def _shown(events: list[AuditEvent], mask: Mask) -> list[ShownEvent]:
    rows = []
    for item in events:
        target = f"{item.target_type}:{item.target_id}" if item.target_type else ""
        label = mask.target(item.target_type, item.target_id) if item.target_type else None
        data, data_hidden = mask.data(item.data)
        details = canonical_json(data) if data else ""
        # A reporter acts as "reporter of BST-...", with the report's id as the actor id.
        actor, actor_hidden = mask.data(item.actor_label)
        rows.append(
            ShownEvent(
                event=item,
                actor=actor,
                actor_id="" if actor_hidden or item.actor_id is None else str(item.actor_id),
                target=label or target,
                target_hidden=label is not None,
                details=details,
                concealed=label is not None or data_hidden or actor_hidden,
            )
        )
    return rows


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
