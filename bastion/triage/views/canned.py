"""The canned responses page: the team's wording for each move, edited by triagers and admins."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bastion.accounts.permissions import triager_required
from bastion.triage.canned import delete_canned_response, save_canned_response
from bastion.triage.forms import CannedResponseForm
from bastion.triage.models import CannedResponse


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def canned_list(request: HttpRequest) -> HttpResponse:
    """Every canned response, by status, and a form to add one."""
    form = CannedResponseForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        save_canned_response(canned=form.canned(), actor=request.user)
        messages.success(request, f"Canned response “{form.instance.title}” added.")
        return HttpResponseRedirect(reverse("triage:canned"), status=303)
    context = {"responses": CannedResponse.objects.select_related("updated_by"), "form": form}
    return render(request, "triage/canned_list.html", context, status=400 if form.errors else 200)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def canned_edit(request: HttpRequest, pk: int) -> HttpResponse:
    """Edit one canned response."""
    canned = get_object_or_404(CannedResponse, pk=pk)
    form = CannedResponseForm(request.POST or None, instance=canned)
    if request.method == "POST" and form.is_valid():
        save_canned_response(canned=form.canned(), actor=request.user)
        messages.success(request, f"Canned response “{canned.title}” saved.")
        return HttpResponseRedirect(reverse("triage:canned"), status=303)
    context = {"canned": canned, "form": form}
    return render(request, "triage/canned_edit.html", context, status=400 if form.errors else 200)


@never_cache
@triager_required
@require_POST
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """Remove one canned response."""
    canned = get_object_or_404(CannedResponse, pk=pk)
    delete_canned_response(canned=canned, actor=request.user)
    messages.success(request, f"Canned response “{canned.title}” deleted.")
    return HttpResponseRedirect(reverse("triage:canned"), status=303)
