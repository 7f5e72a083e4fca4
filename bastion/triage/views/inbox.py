"""The staff inbox: reports newest first, metadata only (see ``report.py``'s docstring for why)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bastion.accounts.permissions import triager_required
from bastion.reports.services.mail_view import held_mail
from bastion.triage.access import inbox_rows
from bastion.triage.forms import InboxFilterForm

PAGE_SIZE = 50


@never_cache
@triager_required
@require_GET
def inbox(request: HttpRequest) -> HttpResponse:
    """Reports newest first, 50 a page, filtered by status; metadata only (see the module docstring)."""
    form = InboxFilterForm(request.GET)
    rows = inbox_rows(request.user)
    if form.is_valid() and form.cleaned_data["status"]:
        rows = rows.filter(status=form.cleaned_data["status"])
    page = Paginator(rows, PAGE_SIZE).get_page(request.GET.get("page")) if form.is_valid() else None
    context = {"form": form, "page": page, "held_mail_count": held_mail().count()}
    return render(request, "triage/inbox.html", context)
