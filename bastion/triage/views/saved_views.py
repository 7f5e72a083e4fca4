"""Saved inbox views: a named query string, kept for oneself or shared with the team.

A view keeps filters only. Page positions and a content search's words are dropped (see
``inbox.filters_query``): the words are often report text, and a saved view is stored in clear.
The filters are checked before saving, so a saved view always opens without errors (unless what
it names, an asset or a label, is deleted later).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.accounts.permissions import triager_required
from bastion.triage.filters import InboxFilterForm
from bastion.triage.models import SavedView
from bastion.triage.views.inbox import filters_query

MAX_QUERY = SavedView._meta.get_field("query").max_length or 1000


class SavedViewForm(forms.Form):
    """Name the current filters, and say whether the team sees them too."""

    name = forms.CharField(max_length=80, error_messages={"required": "Give the view a name."})
    query = forms.CharField(required=False, max_length=4000)
    shared = forms.BooleanField(required=False)


def _inbox(query: str = "") -> HttpResponse:
    url = reverse("triage:inbox")
    return HttpResponseRedirect(f"{url}?{query}" if query else url, status=303)


@never_cache
@triager_required
@require_POST
def save_view(request: HttpRequest) -> HttpResponse:
    """Save the inbox's current filters under a name; the same name again replaces your own view."""
    form = SavedViewForm(request.POST)
    query = filters_query(QueryDict(request.POST.get("query", "")))
    if not form.is_valid():
        messages.error(request, " ".join(str(m) for errors in form.errors.values() for m in errors))
        return _inbox(query)
    filters = InboxFilterForm(QueryDict(query), user=request.user)
    if not filters.is_valid():
        messages.error(request, "Fix the filters before saving them as a view.")
        return _inbox(query)
    if len(query) > MAX_QUERY:
        messages.error(request, f"These filters are too long to save (over {MAX_QUERY} characters).")
        return _inbox(query)
    name = form.cleaned_data["name"]
    _, created = SavedView.objects.update_or_create(
        owner=request.user, name=name, defaults={"query": query, "shared": form.cleaned_data["shared"]}
    )
    shared = " and shared with the team" if form.cleaned_data["shared"] else ""
    messages.success(request, f"View “{name}” {'saved' if created else 'updated'}{shared}.")
    return _inbox(query)


@never_cache
@triager_required
@require_POST
def delete_view(request: HttpRequest, pk: int) -> HttpResponse:
    """Delete one of your own saved views (someone else's, shared or not, is a 404)."""
    view = get_object_or_404(SavedView, pk=pk, owner=request.user)
    view.delete()
    messages.success(request, f"View “{view.name}” deleted.")
    return _inbox()
