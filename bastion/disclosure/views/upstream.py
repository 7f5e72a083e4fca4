"""The upstream contact directory: the list (with keys about to lapse up front) and the edit page."""

from __future__ import annotations

import uuid
from datetime import datetime

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bastion.accounts.permissions import triager_required
from bastion.disclosure.models import UpstreamContact
from bastion.disclosure.services.upstream import KEY_WARNING, directory, key_status, save_upstream_contact
from bastion.disclosure.upstream_forms import UpstreamContactForm


def client_ip(request: HttpRequest) -> str | None:
    """The client's address as the audit trail records it (django-axes reads proxies as configured)."""
    address: str | None = get_client_ip_address(request)
    return address


def attach_errors(form: UpstreamContactForm, error: ValidationError) -> None:
    """Put a service's refusal beside the field it names (or above the form)."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    for field, problems in error.message_dict.items():
        form.add_error(field if field in form.fields else None, problems)


@never_cache
@triager_required
@require_GET
def upstream_list(request: HttpRequest) -> HttpResponse:
    """Every upstream contact; expired keys and keys expiring within 30 days are listed first."""
    now = timezone.now()
    rows = [(contact, key_status(contact, now)) for contact in directory()]
    attention = [(contact, status) for contact, status in rows if contact.active and status.needs_attention]
    context = {"rows": rows, "attention": attention, "warning_days": KEY_WARNING.days}
    return render(request, "disclosure/upstream_list.html", context)


def _seen(value: str) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if value else None
    except ValueError:
        return None


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def upstream_edit(request: HttpRequest, uid: uuid.UUID | None = None) -> HttpResponse:
    """Add an upstream contact, or edit one; a refused key or field is shown beside it, text kept."""
    contact = get_object_or_404(UpstreamContact, uid=uid) if uid else UpstreamContact()
    form = UpstreamContactForm.for_contact(contact, request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                saved = save_upstream_contact(
                    contact=contact if contact.pk else None,
                    data=form.details(),
                    actor=request.user,
                    seen_updated_at=_seen(form.cleaned_data["seen_updated_at"]),
                    ip=client_ip(request),
                )
            except ValidationError as error:
                attach_errors(form, error)
                status = 409 if getattr(error, "code", "") == "stale_edit" else 400
            else:
                messages.success(request, f"{saved.project}: contact saved.")
                return HttpResponseRedirect(reverse("disclosure_staff:upstreams"), status=303)
    context = {
        "form": form,
        "contact": contact,
        "key": key_status(contact) if contact.pk else None,
        "title": contact.project or "New upstream contact",
    }
    return render(request, "disclosure/upstream_edit.html", context, status=status)
