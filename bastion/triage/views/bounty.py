"""The bounty panel's posts: eligibility, decline, propose, approve, mark paid.

Thin views: load the report through ``triage.access`` (a report outside the user's scope is a
404), validate the form, call one ``reports.services.bounty`` function, redirect back to the panel.
A refusal re-renders the report page with the error in the panel: 400 for bad input or a step out
of order, 403 for a rule about who may decide (four eyes, the admin threshold), 409 for a stale
form. Nothing is saved in any of those cases.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from bastion.accounts.permissions import triager_required
from bastion.lib.forms import attach_refusal
from bastion.reports.errors import StaleEdit
from bastion.reports.models import Bounty, BountyStatus, Report
from bastion.reports.services.bounty import (
    approve_award,
    assess_bounty,
    decline_bounty,
    mark_paid,
    propose_award,
)
from bastion.triage.access import report_for
from bastion.triage.bounty_forms import BountyForm, DecisionForm, DeclineForm, EligibilityForm, ProposeForm
from bastion.triage.views.report import back_to, client_ip, render_report

PANEL = "bounty"

# Calls one service with the report, the valid form and the common arguments; returns what to tell the user.
Decide = Callable[[Report, BountyForm, dict[str, Any]], str]


def _decide(
    request: HttpRequest, tracking_id: str, form_class: type[BountyForm], decide: Decide
) -> HttpResponse:
    """The one shape of every bounty post: load, validate, call the service, redirect or show why not."""
    report = report_for(request.user, tracking_id)
    form = form_class(request.POST)
    status = 400
    if form.is_valid():
        common = {
            "actor": request.user,
            "expected_version": form.cleaned_data["version"],
            "ip": client_ip(request),
        }
        try:
            done = decide(report, form, common)
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except PermissionDenied as error:
            form.add_error(None, str(error) or "You may not take this step.")
            status = 403
        except ValidationError as error:
            attach_refusal(form, error)
        else:
            messages.success(request, done)
            return back_to(report, PANEL)
    messages.error(request, "The bounty was not changed: see the bounty panel.")
    return render_report(request, report, bound={PANEL: form}, status=status)


def _decision_step(step: Callable[..., object], message: str) -> Decide:
    """A step on a :class:`DecisionForm`, which carries nothing but the version: call it, then say so."""

    def decide(report: Report, form: BountyForm, common: dict[str, Any]) -> str:
        step(report=report, **common)
        return message

    return decide


@never_cache
@triager_required
@require_POST
def eligibility(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Record the three eligibility answers."""

    def decide(report: Report, form: BountyForm, common: dict[str, Any]) -> str:
        assert isinstance(form, EligibilityForm)
        # Only for the message: the service withdraws a proposal whose answers are no longer all yes.
        had_proposal = Bounty.objects.filter(report=report, status=BountyStatus.PROPOSED).exists()
        bounty = assess_bounty(report=report, **form.answers(), **common)
        if had_proposal and bounty.status == BountyStatus.PENDING:
            return "Eligibility saved. The proposed award was withdrawn: an award needs every answer “yes”."
        return "Eligibility saved."

    return _decide(request, tracking_id, EligibilityForm, decide)


@never_cache
@triager_required
@require_POST
def decline(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Decide the report is not eligible; the reason is posted to the reporter."""

    def decide(report: Report, form: BountyForm, common: dict[str, Any]) -> str:
        decline_bounty(report=report, note=form.cleaned_data["note"], **common)
        return "Declined: the reporter has been told why."

    return _decide(request, tracking_id, DeclineForm, decide)


@never_cache
@triager_required
@require_POST
def propose(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Propose an award; a second person approves it before the reporter hears of it."""

    def decide(report: Report, form: BountyForm, common: dict[str, Any]) -> str:
        data = form.cleaned_data
        note = data["note"] or None
        propose_award(report=report, amount=data["amount"], currency=data["currency"], note=note, **common)
        return "Award proposed. Someone else must approve it before the reporter is told."

    return _decide(request, tracking_id, ProposeForm, decide)


@never_cache
@triager_required
@require_POST
def approve(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Approve the proposed award (not its proposer; an admin above the threshold)."""
    decide = _decision_step(approve_award, "Award approved: the reporter has been told.")
    return _decide(request, tracking_id, DecisionForm, decide)


@never_cache
@triager_required
@require_POST
def paid(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Record that the approved award was paid."""
    decide = _decision_step(mark_paid, "Award marked paid: the reporter has been told.")
    return _decide(request, tracking_id, DecisionForm, decide)
