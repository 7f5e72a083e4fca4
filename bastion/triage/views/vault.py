"""The vault screen for admins: backups, destinations, the last restore drill, keys, pending shreds."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bastion.accounts.permissions import admin_required
from bastion.reports.access import only_visible
from bastion.reports.backup_tasks import daily_backup
from bastion.reports.services.backups import backup_health
from bastion.reports.services.shredding import pending_deletions
from bastion.vault.backup.destinations import Destination, DestinationError, configured_destinations
from bastion.vault.keyring import key_status
from bastion.vault.models import Backup, RestoreDrill

RECENT_BACKUPS = 20


@dataclass(frozen=True)
class DestinationRow:
    """One configured destination as the screen shows it: its archives, or why it can't be read."""

    name: str
    keep: str
    archives: int | None
    error: str


def _describe(destination: Destination) -> DestinationRow:
    try:
        count: int | None = len(destination.archives())
        error = ""
    except DestinationError as problem:
        count, error = None, str(problem)
    return DestinationRow(name=destination.name, keep=str(destination.keep), archives=count, error=error)


@never_cache
@admin_required
@require_http_methods(["GET"])
def vault(request: HttpRequest) -> HttpResponse:
    """Everything an admin checks to trust the backups, on one page."""
    try:
        destinations = [_describe(d) for d in configured_destinations()]
        config_error = ""
    except (DestinationError, ValueError) as error:
        destinations, config_error = [], str(error)
    context = {
        "health": backup_health(),
        "config_error": config_error,
        "destinations": destinations,
        "backups": Backup.objects.prefetch_related("copies")[:RECENT_BACKUPS],
        "drill": RestoreDrill.objects.first(),
        "keys": key_status(),
        # Embargoed reports the admin is not granted on are not named (bastion.reports.access).
        "pending": only_visible(pending_deletions().select_related("data_key"), request.user)[:100],
    }
    return render(request, "triage/vault.html", context)


@admin_required
@require_POST
def backup_now(request: HttpRequest) -> HttpResponse:
    """Queue a backup and drill now, as the daily job would run them."""
    daily_backup.enqueue()
    messages.success(
        request, "A backup and restore drill were queued; this page shows them when they finish."
    )
    return HttpResponseRedirect(reverse("triage:vault"), status=303)
