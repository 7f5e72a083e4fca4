"""The reporter's side of an embargo: acknowledging its end with one button.

The end itself is shown on the report page (``portal/_embargo.html``), on the reporter's wall clock
and in UTC. The form carries the embargo's version the page showed: if staff moved the end since,
the acknowledgement is refused and the page shows the new end, so nobody agrees to a date they
never saw.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from bastion.portal.http import back_to_report, client_ip, portal_view
from bastion.reports.models import Embargo, Report
from bastion.reports.services import portal_token, reporter_actor
from bastion.reports.services.embargo import acknowledge_embargo, reporter_party

ANCHOR = "embargo"


def _seen_version(request: HttpRequest) -> int | None:
    value = request.POST.get("version", "")
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@require_POST
@portal_view
def acknowledge(request: HttpRequest, report: Report) -> HttpResponse:
    """Record that the reporter agrees to the embargo's end as the page showed it."""
    back = back_to_report(report, portal_token(report), anchor=ANCHOR)
    embargo = Embargo.objects.filter(report=report).first()
    party = reporter_party(embargo) if embargo is not None else None
    seen = _seen_version(request)
    if party is None:
        messages.error(request, "There is no embargo on this report to acknowledge.")
        return back
    if seen is None:
        messages.error(
            request, "The form did not say which end you saw: reload the page and acknowledge again."
        )
        return back
    try:
        acknowledge_embargo(
            party=party, actor=reporter_actor(report), seen_version=seen, ip=client_ip(request)
        )
    except ValidationError as error:  # StaleEmbargo, or an embargo that ended or was lifted meanwhile
        messages.error(request, " ".join(error.messages))
        return back
    messages.success(request, "Thank you: you acknowledged the embargo's end.")
    return back
