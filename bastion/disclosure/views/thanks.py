"""The Hall of Thanks: the public page at ``/security/thanks``, and the admins' import of past entries."""

from __future__ import annotations

from axes.helpers import get_client_ip_address
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from bastion.accounts.permissions import admin_required
from bastion.disclosure.credit_forms import ThanksImportForm
from bastion.disclosure.services.thanks import ThanksRejected, hall_of_thanks, import_thanks


@require_GET
def thanks(request: HttpRequest) -> HttpResponse:
    """Everyone we thank, by year, newest first; anonymous researchers counted, never named."""
    years = hall_of_thanks()
    return render(request, "disclosure/public/thanks.html", {"years": years})


@never_cache
@admin_required
@require_http_methods(["GET", "POST"])
def thanks_import(request: HttpRequest) -> HttpResponse:
    """Import past entries from a file or pasted text: all of them, or none and the bad lines listed."""
    form = ThanksImportForm(request.POST or None, request.FILES or None)
    problems: list[object] = []
    status = 200
    if form.is_bound:
        status = 400
        if form.is_valid():
            try:
                result = import_thanks(
                    text=form.cleaned_data["text"], actor=request.user, ip=get_client_ip_address(request)
                )
            except ThanksRejected as error:
                form.add_error(None, error)
                problems = list(error.problems)
            except ValidationError as error:
                form.add_error(None, error)
            else:
                skipped = f" {result.duplicates} already thanked were skipped." if result.duplicates else ""
                messages.success(
                    request, f"{result.imported} names were added to the Hall of Thanks.{skipped}"
                )
                response = HttpResponseRedirect(reverse("disclosure_staff:thanks_import"))
                response.status_code = 303
                return response
    context = {"form": form, "problems": problems}
    return render(request, "disclosure/thanks_import.html", context, status=status)
