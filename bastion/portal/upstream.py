"""The reporter's say on upstream hand-offs: whether we may name them to the project we hand a flaw to.

The report page shows the hand-offs themselves (``portal/_upstream.html``): each upstream, when,
what went, whether their identity went, and the upstream's status. The answer is the reporter's
alone (``set_upstream_consent`` refuses anyone else), and it applies to hand-offs from now on: a
packet already sent cannot be recalled, which the page says.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_POST

from bastion.portal.http import back_to_report, client_ip, portal_view
from bastion.reports.models import Report
from bastion.reports.services import portal_token, reporter_actor
from bastion.reports.services.handoff_events import set_upstream_consent

ANCHOR = "upstream"
YES, NO = "yes", "no"


class UpstreamConsentForm(forms.Form):
    """Yes or no: may we name the reporter (name and handle, never their address) to upstreams?"""

    upstream_consent = forms.ChoiceField(choices=[(YES, "Yes"), (NO, "No")], widget=forms.RadioSelect)


@require_POST
@portal_view
def upstream_consent(request: HttpRequest, report: Report) -> HttpResponse:
    """Record the reporter's answer and go back to the page, saying what it means."""
    back = back_to_report(report, portal_token(report), anchor=ANCHOR)
    if report.data_key.is_destroyed:
        messages.error(request, "This report's content was destroyed, so nothing more can be changed on it.")
        return back
    form = UpstreamConsentForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose yes or no, then save your answer about upstream projects.")
        return back
    consent = form.cleaned_data["upstream_consent"] == YES
    set_upstream_consent(report=report, consent=consent, actor=reporter_actor(report), ip=client_ip(request))
    if consent:
        messages.success(
            request, "Saved: we may give your name and handle to upstream projects we hand this to."
        )
    else:
        messages.success(request, "Saved: we will not name you to upstream projects.")
    return back
