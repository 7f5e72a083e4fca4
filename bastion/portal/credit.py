"""The reporter's credit in the portal: choose how to appear, then confirm the public line.

The report page shows the line as it will be published (``portal/_credit.html``, with a live preview
in ``static/portal/credit-preview.js`` as the reporter types); these views take the two forms. The
reports services decide what is valid (:mod:`bastion.reports.services.credits`): a refusal lands
beside its field with what was typed kept, and a credit staff changed in the meantime is a stale
edit (409) shown with the current line, so nobody confirms a line they never saw.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from bastion.lib.forms import attach_refusal
from bastion.portal.forms import CreditChoiceForm, CreditConfirmForm
from bastion.portal.http import back_to_report, client_ip, portal_view
from bastion.portal.views import _page, _shredded
from bastion.reports.models import Report
from bastion.reports.services import portal_token, reporter_actor
from bastion.reports.services.credits import (
    StaleCredit,
    choose_credit,
    confirm_credit,
    ensure_reporter_credit,
)


def _refused(
    request: HttpRequest, report: Report, form: CreditChoiceForm, error: ValidationError
) -> HttpResponse:
    """The page again, the refusal beside its field; a stale edit keeps what was typed, at the new version."""
    if isinstance(error, StaleCredit):
        data = request.POST.copy()
        data["version"] = str(error.current)
        form = CreditChoiceForm(data)
        form.is_valid()
        form.add_error(None, error)
        return _page(request, report, status=409, credit_form=form)
    attach_refusal(form, error)
    return _page(request, report, status=400, credit_form=form)


@require_POST
@portal_view
def credit(request: HttpRequest, report: Report) -> HttpResponse:
    """Save how the reporter wants to appear; they then confirm the line it makes."""
    if (gone := _shredded(request, report)) is not None:
        return gone
    form = CreditChoiceForm(request.POST)
    if not form.is_valid():
        return _page(request, report, status=400, credit_form=form)
    data = form.cleaned_data
    try:
        choose_credit(
            credit=ensure_reporter_credit(report),
            appearance=data["appearance"],
            name=data["name"],
            handle=data["handle"],
            link=data["link"],
            actor=reporter_actor(report),
            seen_version=data["version"],
            ip=client_ip(request),
        )
    except ValidationError as error:
        return _refused(request, report, form, error)
    messages.success(request, "Your choice was saved. Check the line below and confirm it if it is right.")
    return back_to_report(report, portal_token(report), anchor="credit")


@require_POST
@portal_view
def credit_confirm(request: HttpRequest, report: Report) -> HttpResponse:
    """Confirm the public line shown: publication of an advisory that credits the reporter waits for it."""
    if (gone := _shredded(request, report)) is not None:
        return gone
    form = CreditConfirmForm(request.POST)
    if not form.is_valid():
        messages.error(request, "The confirmation was not understood: reload the page and try again.")
        return back_to_report(report, portal_token(report), anchor="credit")
    try:
        confirm_credit(
            credit=ensure_reporter_credit(report),
            actor=reporter_actor(report),
            seen_version=form.cleaned_data["version"],
            ip=client_ip(request),
        )
    except StaleCredit:
        messages.error(
            request,
            "The security team changed your credit after this page was loaded, so nothing was "
            "confirmed. Check the line as it is now, then confirm it.",
        )
        return _page(request, report, status=409)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return back_to_report(report, portal_token(report), anchor="credit")
    messages.success(request, "Thank you: your credit is confirmed as shown.")
    return back_to_report(report, portal_token(report), anchor="credit")
