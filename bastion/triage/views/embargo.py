"""The embargo panel's actions and the break-glass page: thin views over ``reports.services.embargo``.

Every action loads its report through :mod:`bastion.triage.access` first, so a report the user may
not see is a 404 like any other. A refused form comes back on the report page with its error
beside the field and the text kept (400, or 409 for a stale version); a permission the service
refuses is a 403. The break-glass page is the only one that answers for a report the user may not
see, and only to triagers and admins (viewers never reach a triage view at all).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import triager_required
from bastion.lib.forms import attach_refusal
from bastion.lib.when import as_read_in
from bastion.reports.access import visible_report
from bastion.reports.errors import StaleEdit
from bastion.reports.models import Embargo, EmbargoParty, Report
from bastion.reports.services.embargo import (
    acknowledge_embargo,
    add_party,
    break_glass,
    grant_access,
    lift_embargo,
    move_embargo,
    revoke_access,
    set_embargo,
)
from bastion.triage.access import embargoed_from, report_for
from bastion.triage.panels.embargo import (
    PANEL,
    BreakGlassForm,
    GrantForm,
    LiftEmbargoForm,
    MoveEmbargoForm,
    PartyForm,
    SetEmbargoForm,
    break_glass_page,
)
from bastion.triage.views.report import back_to, client_ip, render_report


def _embargo_of(report: Report) -> Embargo:
    embargo = (
        Embargo.objects.select_related("report__data_key", "report__reporter").filter(report=report).first()
    )
    if embargo is None:
        raise Http404("This report has no embargo.")
    return embargo


def _change(
    request: HttpRequest,
    report: Report,
    form: forms.Form,
    *,
    bound_as: str,
    action: Callable[[dict[str, Any], dict[str, Any]], object],
    done: Callable[[dict[str, Any]], str],
) -> HttpResponse:
    """The one shape of an embargo form's post: validate, call the service, then say so or show why not.

    ``action`` calls the service with the form's cleaned data and the arguments every call takes
    (``actor``, ``ip``); ``done`` is the message once it went through (asked only then: it may read
    what the service wrote). A refusal puts the form back on the report page as ``bound_as`` with
    its errors: 409 for a stale version, else 400.
    """
    status = 400
    if form.is_valid():
        data = form.cleaned_data
        try:
            action(data, {"actor": request.user, "ip": client_ip(request)})
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            messages.success(request, done(data))
            return back_to(report, PANEL)
    messages.error(request, "The embargo was not changed: see the embargo panel.")
    return render_report(request, report, bound={bound_as: form}, status=status)


def _read_by(request: HttpRequest, moment: datetime) -> str:
    """``moment`` as the signed-in staff member reads it, on their own wall clock."""
    return as_read_in(moment, getattr(request.user, "time_zone", "UTC"))


@never_cache
@triager_required
@require_POST
def set_embargo_view(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Put the report under embargo (the setter is granted at once)."""
    report = report_for(request.user, tracking_id)
    return _change(
        request,
        report,
        SetEmbargoForm(request.POST),
        bound_as="embargo_set",
        action=lambda data, common: set_embargo(
            report=report, ends_at=data["ends_at_utc"], reason=data["reason"], **common
        ),
        done=lambda data: (
            f"Embargoed until {_read_by(request, _embargo_of(report).ends_at)}. You are granted on it."
        ),
    )


@never_cache
@triager_required
@require_POST
def move(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Move the end of the running embargo (409 if someone moved it first)."""
    report = report_for(request.user, tracking_id)
    embargo = _embargo_of(report)
    return _change(
        request,
        report,
        MoveEmbargoForm(request.POST),
        bound_as="embargo_move",
        action=lambda data, common: move_embargo(
            embargo=embargo,
            ends_at=data["ends_at_utc"],
            reason=data["reason"],
            seen_version=data["version"],
            **common,
        ),
        done=lambda data: (
            f"Embargo moved to {_read_by(request, embargo.ends_at)}. Every party must acknowledge it again."
        ),
    )


@never_cache
@triager_required
@require_POST
def lift(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Lift the running embargo now."""
    report = report_for(request.user, tracking_id)
    embargo = _embargo_of(report)
    return _change(
        request,
        report,
        LiftEmbargoForm(request.POST),
        bound_as="embargo_lift",
        action=lambda data, common: lift_embargo(
            embargo=embargo, reason=data["reason"], seen_version=data["version"], **common
        ),
        done=lambda data: "Embargo lifted. Every triager and admin may see this report again.",
    )


@never_cache
@triager_required
@require_POST
def party_add(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Bind an upstream project or an internal team to the embargo."""
    report = report_for(request.user, tracking_id)
    embargo = _embargo_of(report)
    return _change(
        request,
        report,
        PartyForm(request.POST),
        bound_as="embargo_party",
        action=lambda data, common: add_party(
            embargo=embargo, kind=data["kind"], label=data["label"], email=data["email"] or None, **common
        ),
        done=lambda data: f"{data['label'].strip()} is now a party to the embargo.",
    )


@never_cache
@triager_required
@require_POST
def acknowledge(request: HttpRequest, tracking_id: str, uid: uuid.UUID) -> HttpResponse:
    """Record a party's acknowledgement of the current end (staff, for a party who told them)."""
    report = report_for(request.user, tracking_id)
    party = get_object_or_404(
        EmbargoParty.objects.select_related("embargo__report"), uid=uid, embargo__report=report
    )
    version = request.POST.get("version", "")
    seen = int(version) if version.isascii() and version.isdigit() and len(version) <= 9 else None
    try:
        acknowledge_embargo(party=party, actor=request.user, seen_version=seen, ip=client_ip(request))
    except ValidationError as error:  # StaleEmbargo, or an embargo no longer running
        messages.error(request, " ".join(error.messages))
        status = 409 if isinstance(error, StaleEdit) else 400
        return render_report(request, report, status=status)
    messages.success(request, f"Recorded: {party.label} acknowledged the embargo's end.")
    return back_to(report, PANEL)


@never_cache
@triager_required
@require_POST
def grant(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Let another triager or admin see the report while it is embargoed."""
    report = report_for(request.user, tracking_id)
    return _change(
        request,
        report,
        GrantForm(request.POST, report=report),
        bound_as="embargo_grant",
        # ``user`` is a StaffChoiceField: a User (an active triager or admin not granted yet).
        action=lambda data, common: grant_access(report=report, user=data["user"], **common),
        done=lambda data: f"{data['user'].get_full_name()} may now see this report.",
    )


@never_cache
@triager_required
@require_POST
def revoke(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """End a staff member's access (grant or break-glass) to the report."""
    report = report_for(request.user, tracking_id)
    value = request.POST.get("user", "")
    member = User.objects.filter(pk=int(value)).first() if value.isascii() and value.isdigit() else None
    if member is None:
        messages.error(request, "Choose whose access to revoke.")
        return render_report(request, report, status=400)
    try:
        revoke_access(report=report, user=member, actor=request.user, ip=client_ip(request))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return render_report(request, report, status=400)
    messages.success(
        request, f"{member.get_full_name()} may no longer see this report while it is embargoed."
    )
    if visible_report(request.user, report.tracking_id) is None:
        # The user revoked their own access: the report page is now a 404 for them.
        return HttpResponseRedirect(reverse("triage:inbox"), status=303)
    return back_to(report, PANEL)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def break_glass_view(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Ask for (GET) and take (POST) a reason to open an embargoed report one is not granted on.

    A report the user may see already is simply opened (303 to its page); one that does not exist
    is a 404 as everywhere else.
    """
    hidden = embargoed_from(request.user, tracking_id)
    if hidden is None:
        report = report_for(request.user, tracking_id)
        return HttpResponseRedirect(reverse("triage:report", args=[report.tracking_id]), status=303)
    if request.method == "GET":
        return break_glass_page(request, hidden)
    form = BreakGlassForm(request.POST)
    if form.is_valid():
        try:
            taken = break_glass(
                report=hidden, actor=request.user, reason=form.cleaned_data["reason"], ip=client_ip(request)
            )
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            until = _read_by(request, taken.expires_at) if taken.expires_at else ""
            messages.warning(
                request,
                f"You broke the glass: you may see {hidden.tracking_id} until {until}. The security lead and "
                "the embargo's setter have been told.",
            )
            return HttpResponseRedirect(reverse("triage:report", args=[hidden.tracking_id]), status=303)
    return break_glass_page(request, hidden, form=form, status=400)
