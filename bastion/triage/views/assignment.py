"""Assigning reports, and the on-call rota page."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin, triager_required
from bastion.accounts.services.rota import RotaChange, save_rota
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.services.casework import assign_report, assignable_staff
from bastion.triage.access import report_for
from bastion.triage.forms import AssignForm, RotaForm
from bastion.triage.views.report import client_ip, render_report


@never_cache
@triager_required
@require_POST
def assign(request: HttpRequest, tracking_id: str) -> HttpResponse:
    """Give the report to someone (or to nobody); "Assign to me" takes it."""
    report = report_for(request.user, tracking_id)
    form = AssignForm(request.POST)
    status = 400
    if form.is_valid():
        chosen = request.user if request.POST.get("assign_to_me") else form.cleaned_data["assignee"]
        assert isinstance(chosen, User | None)
        try:
            assign_report(
                report=report,
                assignee=chosen,
                actor=request.user,
                expected_version=form.cleaned_data["version"],
                ip=client_ip(request),
            )
        except StaleEdit as error:
            form.add_error(None, error.messages)
            status = 409
        except ReportRejected as error:
            form.add_error(None, error.messages)
        else:
            who = chosen.full_name or chosen.email if chosen else "nobody"
            messages.success(request, f"Assigned to {who}.")
            url = reverse("triage:report", args=[report.tracking_id])
            return HttpResponseRedirect(f"{url}#assignment", status=303)
    messages.error(request, "The report was not reassigned: see the assignment form.")
    return render_report(request, report, bound={"assignment": form}, status=status)


def _rota_of(member: User) -> dict[str, object]:
    return {"on_duty": member.on_duty, "backup": member.backup_id}


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def rota(request: HttpRequest) -> HttpResponse:
    """Who is on duty and who backs up whom. Staff change their own row; admins anyone's."""
    user = request.user
    assert isinstance(user, User)
    staff = assignable_staff()
    editable = [m for m in staff if m.pk == user.pk or is_admin(user)]
    data = request.POST if request.method == "POST" else None
    forms = {m.pk: RotaForm(data, member=m, initial=_rota_of(m)) for m in editable}
    if request.method == "POST":
        if all(form.is_valid() for form in forms.values()):
            changes = [
                RotaChange(member=m, on_duty=f.cleaned_data["on_duty"], backup=f.cleaned_data["backup"])
                for m in editable
                if (f := forms[m.pk]).has_changed()
            ]
            try:
                save_rota(changes=changes, actor=user)
            except ValidationError as error:
                messages.error(request, " ".join(error.messages))
            else:
                messages.success(request, "Rota saved.")
                return HttpResponseRedirect(reverse("triage:rota"), status=303)
        else:
            messages.error(request, "The rota was not saved: see the errors below.")
    rows = [(member, forms.get(member.pk)) for member in staff]
    status = 400 if request.method == "POST" else 200
    return render(request, "triage/rota.html", {"rows": rows}, status=status)
