"""The staff inbox: filtered, by keyset pages, metadata only; and bulk actions on the selected rows.

The list decrypts nothing (see ``report.py``'s docstring for why): it shows what is stored in clear
(tracking ID, status, severity and CVSS score, assignee, asset, labels, the next due time, counts).
Searching inside reports is a POST (:func:`inbox` explains why) and opens at most a bounded set.
"""

from __future__ import annotations

import re
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from bastion.accounts.models import User
from bastion.accounts.permissions import triager_required
from bastion.reports import identifiers
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Label, Report
from bastion.reports.services.bulk import (
    MAX_BULK,
    Outcome,
    Result,
    assign_reports,
    close_reports_as_spam,
    label_reports,
)
from bastion.reports.services.mail_view import held_mail
from bastion.reports.workflow import Status
from bastion.triage.access import embargoed_from, reports_for
from bastion.triage.canned import fill
from bastion.triage.filters import CONTENT_SEARCH_MAX, filter_reports
from bastion.triage.keyset import Page
from bastion.triage.models import CannedResponse, SavedView
from bastion.triage.views.report import client_ip

# A checkbox's version, as the list writes it: ASCII digits ("²".isdigit() is True, int() refuses it).
_VERSION = re.compile(r"[0-9]{1,10}")
# Query parameters that are a position in the list or a one-off search, not part of a view.
NOT_SAVED = ("after", "before", "limit", "text")
# Filters shown under "More filters": the details element opens by itself when one is in use.
MORE_FILTERS = (
    *("severity", "assignee", "asset", "channel", "label", "clock", "due_hours"),
    *("received_after", "received_before"),
)


def filters_query(params: QueryDict) -> str:
    """``params`` as a query string without paging or content search: what a saved view keeps."""
    kept = [(name, value) for name in params for value in params.getlist(name) if name not in NOT_SAVED]
    return urlencode([(name, value) for name, value in kept if value != ""])


def visible_saved_views(user: User) -> list[SavedView]:
    """The user's own saved views and those their team shares, by name."""
    rows = SavedView.objects.filter(Q(owner=user) | Q(shared=True)).select_related("owner")
    return list(rows.order_by("name", "id"))


@never_cache
@triager_required
@require_http_methods(["GET", "POST"])
def inbox(request: HttpRequest) -> HttpResponse:
    """Reports newest first (soonest due first with a clock filter), 50 a page, by keyset.

    A GET lists. A POST (CSRF-protected) searches inside the reports the GET filters select: the
    words searched for travel in the body, so they never land in a URL, the browser's history,
    a proxy's or the server's access log, or a saved view. They are report text more often than
    not (a triager pastes a phrase to find its twin). All matches fit one page (at most 500).
    """
    data = request.GET.copy()
    data.pop("text", None)
    searching = request.method == "POST" and bool(request.POST.get("text", "").strip())
    if searching:
        data["text"] = request.POST["text"]
        data.pop("after", None)
        data.pop("before", None)
    result = filter_reports(request.user, data, ip=client_ip(request))
    if result.jump_to is not None:
        return HttpResponseRedirect(reverse("triage:report", args=[result.jump_to.tracking_id]))
    # An exact tracking ID of an embargoed report this triager is not granted on: offer break-glass.
    if not searching and (hidden := embargoed_from(request.user, data.get("q", ""))):
        return HttpResponseRedirect(reverse("triage:break_glass", args=[hidden.tracking_id]))
    page = None
    if result.rows is not None:
        page = result.page(size=CONTENT_SEARCH_MAX if searching else None)
    query = filters_query(request.GET)
    context = {
        "form": result.form,
        "result": result,
        "page": page,
        "query": query,
        "links": _page_links(query, page, by_due=result.by_due),
        "more_filters_open": any(result.form[name].value() for name in MORE_FILTERS),
        "saved_views": visible_saved_views(request.user),  # type: ignore[arg-type]  # triager_required let only a User in
        "bulk": _bulk_context(),
        "now": timezone.now(),
        "held_mail_count": held_mail().count(),
    }
    return render(request, "triage/inbox.html", context, status=400 if result.errors else 200)


def _page_links(query: str, page: Page | None, *, by_due: bool) -> dict[str, str]:
    """The first / newer / older page URLs (the last two carry a cursor), and their labels."""
    base = reverse("triage:inbox")
    links: dict[str, str] = {}
    if page is None:
        return links
    glue = f"?{query}&" if query else "?"
    if not page.is_first:
        links["first"] = f"{base}?{query}" if query else base
    if page.newer:
        links["newer"] = f"{base}{glue}before={page.newer}"
    if page.older:
        links["older"] = f"{base}{glue}after={page.older}"
    links["newer_label"], links["older_label"] = ("Due sooner", "Due later") if by_due else ("Newer", "Older")
    return links


def _bulk_context() -> dict[str, object]:
    spam = CannedResponse.objects.filter(status=Status.SPAM, is_default=True).first()
    staff = User.objects.assignable().order_by("full_name", "email")
    return {
        "staff": staff,
        "labels": Label.objects.order_by("name"),
        "spam_message": spam.body if spam else "",
        "max": MAX_BULK,
    }


class BulkForm(forms.Form):
    """A bulk action on the selected rows: what to do, and its one argument."""

    action = forms.ChoiceField(
        choices=[("assign", "Assign"), ("label", "Add a label"), ("spam", "Close as spam")],
        error_messages={"required": "Choose what to do with the selected reports."},
    )
    assignee = forms.ModelChoiceField(
        queryset=User.objects.assignable(),
        required=False,
        error_messages={"invalid_choice": "Choose an active triager or admin (or nobody)."},
    )
    label = forms.CharField(required=False, max_length=40)
    reporter_message = forms.CharField(required=False, strip=False, max_length=100_000)
    query = forms.CharField(required=False, max_length=2000)


@never_cache
@triager_required
@require_POST
def bulk(request: HttpRequest) -> HttpResponse:
    """Apply one action to the checked reports, one report at a time; say what became of each.

    Each checkbox carries ``<tracking ID>@<version>``: a report changed since the list was drawn
    is refused as a stale edit rather than acted on blind.
    """
    form = BulkForm(request.POST)
    back = reverse("triage:inbox")
    query = filters_query(QueryDict(request.POST.get("query", "")))
    back = f"{back}?{query}" if query else back
    chosen, unreadable = _chosen(request.POST.getlist("report"))
    if unreadable:
        shown = ", ".join(f"“{value[:40]}”" for value in unreadable[:5])
        messages.error(
            request,
            f"Nothing was changed: these selections are not rows of the list ({shown}). "
            "Reload the inbox and select the reports again.",
        )
        return HttpResponseRedirect(back, status=303)
    if not form.is_valid() or not chosen:
        problems = [str(m) for field_errors in form.errors.values() for m in field_errors]
        messages.error(request, " ".join(problems) or "Select at least one report first.")
        return HttpResponseRedirect(back, status=303)
    found = {r.tracking_id: r for r in reports_for(request.user).filter(tracking_id__in=list(chosen))}
    reports = [found[tid] for tid in chosen if tid in found]
    versions = {found[tid].pk: version for tid, version in chosen.items() if tid in found and version}
    for missing in [tid for tid in chosen if tid not in found]:
        messages.warning(request, f"{missing}: there is no such report (or it is not yours to see).")
    action, ip = form.cleaned_data["action"], client_ip(request)
    try:
        if action == "assign":
            assignee = form.cleaned_data["assignee"]
            outcomes = assign_reports(
                reports=reports, assignee=assignee, actor=request.user, expected_versions=versions, ip=ip
            )
            done = f"assigned to {assignee.full_name or assignee.email}" if assignee else "unassigned"
        elif action == "label":
            label = form.cleaned_data["label"]
            outcomes = label_reports(
                reports=reports, label=label, actor=request.user, expected_versions=versions, ip=ip
            )
            done = f"labelled {label.strip().lower()}"
        else:
            text = form.cleaned_data["reporter_message"]
            outcomes = close_reports_as_spam(
                reports=reports,
                actor=request.user,
                reporter_message=lambda report: fill(text, tracking_id=report.tracking_id),
                expected_versions=versions,
                ip=ip,
            )
            done = "closed as spam"
    except ReportRejected as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(back, status=303)
    _tell(request, outcomes, done)
    return HttpResponseRedirect(back, status=303)


def _chosen(values: list[str]) -> tuple[dict[str, int | None], list[str]]:
    """The checked rows as tracking ID → the version the list showed (None if not sent), and the
    values that are no ``<tracking ID>[@<version>]`` at all (a tampered or garbled form).
    """
    chosen: dict[str, int | None] = {}
    unreadable: list[str] = []
    for value in values[: MAX_BULK + 1]:
        tracking, _, version = value.partition("@")
        normalized = identifiers.normalize_tracking_id(tracking)
        if normalized is None or (version and not _VERSION.fullmatch(version)):
            unreadable.append(value)
        else:
            chosen[normalized] = int(version) if version else None
    return chosen, unreadable


def _tell(request: HttpRequest, outcomes: list[Outcome], done: str) -> None:
    """One message per kind of result, naming the reports, and one per refusal with its reason."""
    by_result: dict[Result, list[Report]] = {}
    for outcome in outcomes:
        by_result.setdefault(outcome.result, []).append(outcome.report)
    if by_result.get(Result.DONE):
        reports = by_result[Result.DONE]
        names = ", ".join(r.tracking_id for r in reports)
        messages.success(request, f"{len(reports)} report{'s' if len(reports) != 1 else ''} {done}: {names}.")
    if by_result.get(Result.UNCHANGED):
        names = ", ".join(r.tracking_id for r in by_result[Result.UNCHANGED])
        messages.info(request, f"Already so, left as they were: {names}.")
    for outcome in outcomes:
        if outcome.result == Result.REFUSED:
            messages.warning(request, f"{outcome.report.tracking_id} was not changed: {outcome.reason}")
