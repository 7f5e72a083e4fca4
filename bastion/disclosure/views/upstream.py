"""The upstream contact directory: the list (with keys about to lapse up front) and the edit page."""

from __future__ import annotations

import uuid
from datetime import datetime

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
from bastion.disclosure.views._shared import client_ip
from bastion.lib.forms import attach_refusal
from bastion.lib.when import as_read_in


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
            seen = _seen(form.cleaned_data["seen_updated_at"])
            if contact.pk and seen is None:
                # A form for an existing contact that does not say which version it edits would
                # skip the stale check and overwrite whatever is saved: treat it as stale.
                return _stale(request, contact)
            try:
                saved = save_upstream_contact(
                    contact=contact if contact.pk else None,
                    data=form.details(),
                    actor=request.user,
                    seen_updated_at=seen,
                    ip=client_ip(request),
                )
            except ValidationError as error:
                if getattr(error, "code", "") == "stale_edit":
                    return _stale(request, contact)
                attach_refusal(form, error)
            else:
                messages.success(request, f"{saved.project}: contact saved.")
                return HttpResponseRedirect(reverse("disclosure_staff:upstreams"), status=303)
    return _edit_page(request, contact, form, status=status)


def _edit_page(
    request: HttpRequest,
    contact: UpstreamContact,
    form: UpstreamContactForm,
    *,
    status: int,
    stale: bool = False,
) -> HttpResponse:
    context = {
        "form": form,
        "contact": contact,
        "key": key_status(contact) if contact.pk else None,
        "title": contact.project or "New upstream contact",
        # After a refused stale edit: the contact as saved now, shown beside the editor's kept input.
        "stale": stale,
    }
    return render(request, "disclosure/upstream_edit.html", context, status=status)


def _stale(request: HttpRequest, contact: UpstreamContact) -> HttpResponse:
    """409: someone saved ``contact`` since this form was loaded. Nothing was saved.

    The page shows the contact as saved now; the form keeps what this editor typed but carries the
    current ``updated_at``, so saving again is a deliberate choice to replace what they can see.
    """
    current = UpstreamContact.objects.get(pk=contact.pk)
    data = request.POST.copy()
    data["seen_updated_at"] = current.updated_at.isoformat()
    form = UpstreamContactForm.for_contact(current, data)
    form.is_valid()  # fills cleaned_data, so the notice below can be added to a bound form
    zone = getattr(request.user, "time_zone", "UTC")
    form.add_error(
        None,
        f"Someone else saved this contact at {as_read_in(current.updated_at, zone)}, while you were "
        "editing it. Nothing was saved. What is saved now is shown above; your changes are kept below: "
        "save again to replace theirs.",
    )
    return _edit_page(request, current, form, status=409, stale=True)
