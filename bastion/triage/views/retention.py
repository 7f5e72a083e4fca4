"""Retention rules: how long reports closed in each state are kept before their content is shredded.

Triagers and admins see the rules; only admins change them (``set_retention_rule`` audits each
change). One form sets a state's days, and the same form with the days left empty removes the rule.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from bastion.accounts.permissions import is_admin, triager_required
from bastion.reports.errors import ReportRejected
from bastion.reports.models import RetentionRule
from bastion.reports.models.custody import MAX_RETENTION_DAYS
from bastion.reports.services import set_retention_rule
from bastion.reports.workflow import CLOSED, Status


class RetentionRuleForm(forms.Form):
    """A closed state and its days; no days removes that state's rule."""

    status = forms.ChoiceField(
        label="Reports closed as", choices=[(s.value, s.label) for s in Status if s in CLOSED]
    )
    after_days = forms.IntegerField(
        label="Destroy their content after (days)",
        min_value=1,
        max_value=MAX_RETENTION_DAYS,
        required=False,
        help_text="Counted from when the report was closed. Leave empty to keep these reports.",
    )


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def retention_rules(request: HttpRequest) -> HttpResponse:
    """Every retention rule, and (for admins) the form that sets or removes one."""
    if request.method == "POST" and not is_admin(request.user):
        raise PermissionDenied("Only admins change retention rules.")
    form = RetentionRuleForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        status, days = form.cleaned_data["status"], form.cleaned_data["after_days"]
        try:
            rule = set_retention_rule(status=status, after_days=days, actor=request.user)
        except ReportRejected as error:
            for name, problems in error.message_dict.items():
                form.add_error(name if name in form.fields else None, problems)
        else:
            label = Status(status).label
            done = (
                f"{label}: content destroyed {rule.after_days} days after closing."
                if rule
                else (f"{label}: no retention rule; these reports are kept.")
            )
            messages.success(request, done)
            return HttpResponseRedirect(reverse("triage:retention"), status=303)
    context = {
        "rules": RetentionRule.objects.all(),
        "form": form,
        "can_edit": is_admin(request.user),
    }
    return render(request, "triage/retention.html", context, status=400 if form.errors else 200)
