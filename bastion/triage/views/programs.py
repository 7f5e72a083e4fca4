"""Programs and assets: admins set the terms (targets, hours, bounty table) and the list of assets."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bastion.accounts.models import User
from bastion.accounts.permissions import admin_required
from bastion.reports.models import Asset, Program
from bastion.reports.services.programs import save_asset, save_program
from bastion.triage.program_forms import AssetForm, ProgramForm


def _admin(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)  # admin_required has let only a signed-in admin through
    return user


@never_cache
@admin_required
@require_http_methods(["GET"])
def program_list(request: HttpRequest) -> HttpResponse:
    """Every program with its assets."""
    programs = Program.objects.prefetch_related("assets")
    return render(request, "triage/programs.html", {"programs": programs})


def _edit(
    request: HttpRequest, form: ProgramForm | AssetForm, *, save: Callable[[], str], title: str
) -> HttpResponse:
    """Show ``form``; on a valid post call ``save`` (it returns the confirmation) and go back to the list."""
    if request.method == "POST" and form.is_valid():
        messages.success(request, save())
        return HttpResponseRedirect(reverse("triage:programs"), status=303)
    status = 400 if form.errors else 200
    return render(request, "triage/settings_form.html", {"form": form, "title": title}, status=status)


@never_cache
@admin_required
@require_http_methods(["GET", "POST"])
def program_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Edit a program's terms (or create one, without ``pk``)."""
    program = get_object_or_404(Program, pk=pk) if pk else Program()
    form = ProgramForm(request.POST or None, instance=program)

    def save() -> str:
        save_program(program=form.instance, actor=_admin(request))
        return f"{form.instance.name}: terms saved. Clocks started from now on use them."

    return _edit(request, form, save=save, title=program.name or "New program")


@never_cache
@admin_required
@require_http_methods(["GET", "POST"])
def asset_edit(request: HttpRequest, pk: int | None = None) -> HttpResponse:
    """Edit an asset (or add one, without ``pk``)."""
    asset = get_object_or_404(Asset, pk=pk) if pk else Asset()
    form = AssetForm(request.POST or None, instance=asset)

    def save() -> str:
        save_asset(asset=form.instance, actor=_admin(request))
        return f"Asset {form.instance.name} saved."

    return _edit(request, form, save=save, title=asset.name or "New asset")
