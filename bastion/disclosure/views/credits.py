"""The credit ledger's staff pages: a report's credits, adding one, correcting, withdrawing, history.

Each view loads the report (or the credit, through its report) with ``reports.access.visible_reports``
first: a report the user may not see, embargoed or not, is a 404 like one that does not exist. The
services audit every change and every opening of a person's details; a refusal is shown beside
its field with what was typed kept, and a stale edit (someone changed the credit meanwhile) is a
409 showing the credit as it now stands.
"""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from bastion.accounts.permissions import triager_required
from bastion.disclosure.credit_forms import AddCreditForm, CorrectCreditForm, WithdrawCreditForm
from bastion.disclosure.views._shared import client_ip, report_or_404
from bastion.lib.forms import attach_refusal
from bastion.reports.access import only_visible, visible_reports
from bastion.reports.models import Report
from bastion.reports.models.credit import Credit
from bastion.reports.services import credits


def _credit(request: HttpRequest, uid: uuid.UUID) -> Credit:
    """The credit ``uid`` if the user may see its report; Http404 otherwise."""
    rows = only_visible(
        Credit.objects.select_related("report__data_key", "report__reporter"), request.user, via="report"
    )
    return get_object_or_404(rows, uid=uid)


def _opened(request: HttpRequest, credit: Credit) -> credits.OpenedCredit:
    """``credit`` opened for the user (an audited read of the report's credits)."""
    for opened in credits.report_credits(report=credit.report, actor=request.user, ip=client_ip(request)):
        if opened.credit.pk == credit.pk:
            return opened
    raise Http404("No such credit.")


def _to_list(report: Report) -> HttpResponseRedirect:
    response = HttpResponseRedirect(reverse("disclosure_staff:credits", args=[report.tracking_id]))
    response.status_code = 303
    return response


def _refusal(form: Form, error: ValidationError) -> int:
    """Put a service's refusal beside the field it names; the status to answer with."""
    attach_refusal(form, error)
    return 409 if isinstance(error, credits.StaleCredit) else 400


def _list_page(
    request: HttpRequest, report: Report, *, add_form: AddCreditForm | None = None, status: int = 200
) -> HttpResponse:
    # Duplicates that share this report's credit add their reporters to its advisory (each confirms
    # in their own portal); only those the user may see are named.
    sharing = visible_reports(request.user).filter(duplicate_of=report, duplicate_credit=True)
    context = {
        "report": report,
        "credits": credits.report_credits(report=report, actor=request.user, ip=client_ip(request)),
        "sharing": list(sharing.order_by("received_at").only("tracking_id")),
        "add_form": add_form or AddCreditForm(),
    }
    return render(request, "disclosure/credit_list.html", context, status=status)


@never_cache
@triager_required
@require_GET
def credit_list(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """The report's credits: type, public line, confirmed and published state; and the add form."""
    report = report_or_404(request, tracking_id)
    if report.data_key.is_destroyed:
        raise Http404("This report's content was destroyed.")
    return _list_page(request, report)


@triager_required
@require_POST
def credit_add(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Credit someone on the report (confirmed by the staff member adding it)."""
    report = report_or_404(request, tracking_id)
    form = AddCreditForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            credits.add_credit(
                report=report,
                credit_type=form.cleaned_data["credit_type"],
                person=form.person(),
                appearance=form.cleaned_data["appearance"],
                for_reporter=form.cleaned_data["for_reporter"],
                actor=request.user,
                ip=client_ip(request),
            )
        except ValidationError as error:
            status = _refusal(form, error)
        else:
            messages.success(request, "The credit was added.")
            return _to_list(report)
    return _list_page(request, report, add_form=form, status=status)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def credit_correct(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Correct a disputed credit, with a reason; a stale edit shows the credit as it now stands."""
    credit = _credit(request, uid)
    opened = _opened(request, credit)
    form = CorrectCreditForm.showing(opened, request.POST if request.method == "POST" else None)
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                credits.correct_credit(
                    credit=credit,
                    changes=form.changes(opened),
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    seen_version=form.cleaned_data["version"],
                    ip=client_ip(request),
                )
            except ValidationError as error:
                status = _refusal(form, error)
                if status == 409:
                    # Shown again as it stands now, what was typed kept, at the current version.
                    opened = _opened(request, credit)
                    data = request.POST.copy()
                    data["version"] = str(opened.credit.version)
                    stale = CorrectCreditForm.showing(opened, data)
                    stale.is_valid()
                    stale.add_error(None, error)
                    form = stale
            else:
                messages.success(request, "The credit was corrected; its history keeps the change and why.")
                return _to_list(credit.report)
    context = {"report": credit.report, "opened": opened, "form": form}
    return render(request, "disclosure/credit_correct.html", context, status=status)


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def credit_withdraw(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Withdraw a credit, with a reason (a confirmation page, then the change)."""
    credit = _credit(request, uid)
    opened = _opened(request, credit)
    if request.method == "POST":
        form = WithdrawCreditForm(request.POST)
    else:
        form = WithdrawCreditForm(initial={"version": credit.version})
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                credits.withdraw_credit(
                    credit=credit,
                    reason=form.cleaned_data["reason"],
                    actor=request.user,
                    seen_version=form.cleaned_data["version"],
                    ip=client_ip(request),
                )
            except ValidationError as error:
                status = _refusal(form, error)
            else:
                messages.success(request, "The credit was withdrawn.")
                return _to_list(credit.report)
    context = {"report": credit.report, "opened": opened, "form": form}
    return render(request, "disclosure/credit_withdraw.html", context, status=status)


@never_cache
@triager_required
@require_GET
def credit_history(request: HttpRequest, uid: uuid.UUID) -> HttpResponse:
    """Every change to a credit: who, when, before and after, and why (an audited read)."""
    credit = _credit(request, uid)
    entries = credits.credit_history(credit, request.user, ip=client_ip(request))
    context = {"report": credit.report, "credit": credit, "entries": entries}
    return render(request, "disclosure/credit_history.html", context)
