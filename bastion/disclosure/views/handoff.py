"""Handing a report to an upstream (send or export) and following the upstream afterwards.

Every view loads the report (or the hand-off's report) through ``reports.access.visible_reports``
first: a report the user may not see (under embargo, no grant) is a 404, as in triage.
Every response is ``never_cache``: these pages and downloads hold report content.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bastion.accounts.permissions import triager_required
from bastion.disclosure.handoff import SECTION_LABELS, HandoffRefused, StaleHandoff
from bastion.disclosure.models import Channel, Handoff, HandoffStatus, UpstreamContact
from bastion.disclosure.services.handoff import (
    HandoffExport,
    download_packet,
    export_handoff,
    open_packet,
    running_embargo,
    send_handoff,
    update_handoff,
)
from bastion.disclosure.services.upstream import key_status
from bastion.disclosure.upstream_forms import HandoffForm, HandoffUpdateForm
from bastion.disclosure.views._shared import client_ip, report_or_404
from bastion.lib.forms import attach_refusal
from bastion.reports.access import only_visible

SEND, EXPORT = "send", "export"


def _handoff(request: HttpRequest, uid: uuid.UUID) -> Handoff:
    """The hand-off if the user may see its report; Http404 otherwise."""
    rows = only_visible(Handoff.objects.all(), request.user, via="report").select_related(
        "report__reporter", "report__data_key", "contact", "created_by"
    )
    return get_object_or_404(rows, uid=uid)


def _download(export: HandoffExport) -> HttpResponse:
    response = HttpResponse(export.content, content_type=export.content_type)
    response["Content-Disposition"] = content_disposition_header(True, export.filename) or "attachment"
    response["X-Content-Type-Options"] = "nosniff"
    return response


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def handoff_new(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The hand-off form: choose the upstream, the sections, the reporter's identity and a deadline,
    then send (encrypted email) or export (a zip for their own channel)."""
    report = report_or_404(request, tracking_id)
    consent = report.reporter.upstream_consent
    form = HandoffForm(request.POST if request.method == "POST" else None, consent=consent)
    status = 200
    if form.is_bound:
        status = 400
        action = request.POST.get("action", SEND)
        if action not in (SEND, EXPORT):
            form.add_error(None, "Choose to send the packet or to export it.")
        elif form.is_valid():
            data = form.cleaned_data
            arguments = {
                "report": report,
                "contact": data["contact"],
                "sections": data["sections"],
                "include_identity": bool(data["include_identity"]),
                "deadline": data["deadline"],
                "actor": request.user,
                "ip": client_ip(request),
            }
            try:
                if action == EXPORT:
                    return _download(export_handoff(**arguments))
                handoff = send_handoff(**arguments)
            except ValidationError as error:
                attach_refusal(form, error)
            else:
                messages.success(
                    request,
                    f"The packet for {handoff.contact.project} is on its way, encrypted to their key "
                    f"{handoff.contact.key_fingerprint}.",
                )
                return HttpResponseRedirect(
                    reverse("disclosure_staff:handoff", args=[handoff.uid]), status=303
                )
    context = {
        "report": report,
        "form": form,
        "consent": consent,
        "embargo": running_embargo(report),
        "contacts": [
            (c, key_status(c)) for c in UpstreamContact.objects.filter(active=True).order_by("project")
        ],
    }
    return render(request, "disclosure/handoff_new.html", context, status=status)


def _same_minute(posted: datetime | None, stored: datetime | None) -> datetime | None:
    """The stored deadline when the form sent it back unchanged (the picker drops seconds)."""
    if posted is not None and stored is not None and posted == stored.replace(second=0, microsecond=0):
        return stored
    return posted


def _page(
    request: HttpRequest, handoff: Handoff, form: HandoffUpdateForm, *, status: int = 200, stale: bool = False
) -> HttpResponse:
    packet, packet_error = None, ""
    try:
        packet = open_packet(handoff=handoff, actor=request.user, ip=client_ip(request))
    except HandoffRefused as error:
        packet_error = " ".join(error.messages)
    context = {
        "handoff": handoff,
        "report": handoff.report,
        "contact": handoff.contact,
        "form": form,
        "packet": packet,
        "packet_error": packet_error,
        "shared": [SECTION_LABELS.get(name, name) for name in handoff.shared],
        "queued": handoff.channel == Channel.EMAIL and handoff.sent_at is None,
        # After a refused stale edit: what is saved now, shown beside the editor's kept input.
        "stale": stale,
    }
    return render(request, "disclosure/handoff_page.html", context, status=status)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def handoff_page(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """One hand-off: what went, to whom, and the upstream's status, deadline and IDs (editable)."""
    handoff = _handoff(request, uid)
    if request.method != "POST":
        initial = {
            "status": handoff.status,
            "deadline": handoff.deadline,
            "ghsa_id": handoff.ghsa_id,
            "cve_id": handoff.cve_id,
            "tracking_url": handoff.tracking_url,
            "version": handoff.version,
        }
        return _page(request, handoff, HandoffUpdateForm(initial=initial))
    form = HandoffUpdateForm(request.POST)
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            update_handoff(
                handoff=handoff,
                status=data["status"],
                deadline=_same_minute(data["deadline"], handoff.deadline),
                ghsa_id=data["ghsa_id"],
                cve_id=data["cve_id"],
                tracking_url=data["tracking_url"],
                reason=data["reason"],
                seen_version=data["version"],
                actor=request.user,
                ip=client_ip(request),
            )
        except StaleHandoff as error:
            # The page is drawn from the hand-off as saved now, and the form keeps what this editor
            # typed but carries the current version: saving again is then a deliberate choice to
            # replace what they can see, never the stale form overwriting a change unseen.
            handoff = _handoff(request, uid)
            form = _rebound(request.POST, version=handoff.version)
            form.add_error(
                None,
                f"Someone else updated this hand-off while you were editing it (you had version "
                f"{error.expected}, it is now at version {handoff.version}). Nothing was saved. What is "
                "saved now is shown above; your changes are kept below: save again to replace theirs.",
            )
            return _page(request, handoff, form, status=409, stale=True)
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            label = HandoffStatus(data["status"]).label.lower()
            messages.success(request, f"Saved: {handoff.contact.project} is {label}.")
            return HttpResponseRedirect(reverse("disclosure_staff:handoff", args=[handoff.uid]), status=303)
    return _page(request, handoff, form, status=status)


def _rebound(posted: QueryDict, *, version: int) -> HandoffUpdateForm:
    """The update form bound to what the editor posted, but at the hand-off's current ``version``."""
    data = posted.copy()
    data["version"] = str(version)
    form = HandoffUpdateForm(data)
    form.is_valid()  # it was valid a moment ago; this fills cleaned_data so errors can be added
    return form


@never_cache
@triager_required
@require_GET
def handoff_packet(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """The packet of a hand-off as a zip again (Markdown summary and CSAF draft); audited."""
    handoff = _handoff(request, uid)
    try:
        export = download_packet(handoff=handoff, actor=request.user, ip=client_ip(request))
    except HandoffRefused as error:
        raise Http404(" ".join(error.messages)) from None
    return _download(export)
