"""The response-metrics dashboard and the CSV export of each of its charts.

Who may look: triagers and admins, as for the inbox. Viewers are refused (403) although the
figures are aggregates: a viewer sees no report at all (``access.reports_for`` gives them none),
and on a small program a month's figures by severity can say that a critical report arrived and
is still open, which is news of embargoed work. The opt-in public page (``/security/stats``) is
what anyone, viewers included, may see.

Every figure is computed over ``access.reports_for(user)``, so when access narrows by team or
embargo the dashboard narrows with it. Nothing is opened or decrypted, so nothing is recorded:
like the inbox, the dashboard reads clear metadata only, and the export holds the same numbers
as the page (no per-report rows).
"""

from __future__ import annotations

import csv
import re
from datetime import date
from urllib.parse import urlencode

from django import forms
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import content_disposition_header
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from bastion.accounts.permissions import triager_required
from bastion.reports import metrics
from bastion.reports.models import Channel, ClockKind
from bastion.reports.workflow import Status
from bastion.triage.access import reports_for
from bastion.triage.charts import Chart, Series, render_svg

_MONTH = re.compile(r"([0-9]{4})-([0-9]{2})")
EARLIEST_YEAR = 2000
CACHE_SECONDS = 300


class MetricsFilterForm(forms.Form):
    """Which months (the 12 ending with ``month``) and which severity the dashboard shows."""

    month = forms.CharField(
        required=False,
        max_length=7,
        widget=forms.TextInput(attrs={"type": "month", "placeholder": "YYYY-MM"}),
        help_text="The last month shown (UTC), as YYYY-MM; the charts cover the 12 months up to it.",
    )
    severity = forms.ChoiceField(
        required=False,
        choices=[("", "All severities"), *((s, metrics.SEVERITY_LABELS[s]) for s in metrics.SEVERITIES)],
    )

    def clean_month(self) -> date | None:
        value = self.cleaned_data["month"].strip()
        if not value:
            return None
        match = _MONTH.fullmatch(value)
        if not match or not 1 <= int(match[2]) <= 12:
            raise forms.ValidationError(f"“{value}” is not a month: write it as YYYY-MM, e.g. 2025-03.")
        # The year is checked before a date is made of it: year 0 is no date at all (ValueError).
        if int(match[1]) < EARLIEST_YEAR:
            raise forms.ValidationError(f"Choose a month from {EARLIEST_YEAR} on.")
        chosen = date(int(match[1]), int(match[2]), 1)
        if chosen > metrics.month_start(timezone.now()):
            raise forms.ValidationError("That month has not begun yet: choose this month or an earlier one.")
        return chosen


def _slug(milestone: str) -> str:
    return milestone.replace("_", "-")


def build_charts(board: metrics.Dashboard) -> list[Chart]:
    """Every chart on the dashboard, in page order, from one set of figures."""
    months = board.window.labels
    span = f"{months[0]} to {months[-1]} (UTC months; a report counts in the month it was received)"
    charts: list[Chart] = []
    for milestone in metrics.MILESTONES:
        name = metrics.MILESTONE_LABELS[milestone].lower()
        by_month = board.times_by_month[milestone]
        charts.append(
            Chart(
                slug=f"time-to-{_slug(milestone)}-by-month",
                title=f"Time to {name}, by month",
                description=f"Median and 90th-percentile hours from receipt to {name}, {span}.",
                kind="line",
                category_label="Month",
                categories=months,
                series=[
                    Series("Median", [d.median_hours for d in by_month]),
                    Series("90th percentile", [d.p90_hours for d in by_month]),
                ],
                unit="hours",
                extra=[
                    Series("Reports", [d.count for d in by_month]),
                    Series("Still waiting", [d.pending for d in by_month]),
                ],
            )
        )
        by_severity = board.times_by_severity[milestone]
        charts.append(
            Chart(
                slug=f"time-to-{_slug(milestone)}-by-severity",
                title=f"Time to {name}, by severity",
                description=(
                    f"Median and 90th-percentile hours from receipt to {name} for each severity, {span}."
                ),
                kind="bar",
                category_label="Severity",
                categories=[metrics.SEVERITY_LABELS[s] for s in by_severity],
                series=[
                    Series("Median", [d.median_hours for d in by_severity.values()]),
                    Series("90th percentile", [d.p90_hours for d in by_severity.values()]),
                ],
                unit="hours",
                extra=[
                    Series("Reports", [d.count for d in by_severity.values()]),
                    Series("Still waiting", [d.pending for d in by_severity.values()]),
                ],
            )
        )
    kinds = list(ClockKind)
    charts.append(
        Chart(
            slug="inside-targets-by-month",
            title="Reports inside each target, by month",
            description=(
                "Percentage of reports that met each response target without breaching it, of those "
                f"with an outcome, {span}."
            ),
            kind="line",
            category_label="Month",
            categories=months,
            series=[
                Series(str(kind.label), [s.percent for s in board.targets_by_month[kind.value]])
                for kind in kinds
            ],
            unit="%",
            ceiling=100,
            extra=[
                Series(f"{kind.label}: judged", [s.total for s in board.targets_by_month[kind.value]])
                for kind in kinds
            ],
        )
    )
    charts.append(
        Chart(
            slug="open-backlog",
            title="Open backlog at each month's end",
            description=(
                f"Reports open at the end of each month, {months[0]} to {months[-1]} (UTC); "
                f"the running month shows now, when {board.open_now} are open."
            ),
            kind="line",
            category_label="Month end",
            categories=months,
            series=[Series("Open reports", board.backlog)],
            unit="reports",
            digits=0,
        )
    )
    charts.append(
        Chart(
            slug="reports-received-by-month",
            title="Reports received, by month",
            description=f"Reports received in each month, {span}.",
            kind="bar",
            category_label="Month",
            categories=months,
            series=[Series("Reports", board.received_by_month)],
            unit="reports",
            digits=0,
        )
    )
    charts.append(
        Chart(
            slug="reports-by-state",
            title="Reports by state",
            description=f"Where the reports received {months[0]} to {months[-1]} stand now.",
            kind="bar",
            category_label="State",
            categories=[str(Status(s).label) for s in board.by_state],
            series=[Series("Reports", list(board.by_state.values()))],
            unit="reports",
            digits=0,
        )
    )
    charts.append(
        Chart(
            slug="reports-by-channel",
            title="Reports by channel",
            description=f"How the reports received {months[0]} to {months[-1]} came in.",
            kind="bar",
            category_label="Channel",
            categories=[str(Channel(c).label) for c in board.by_channel],
            series=[Series("Reports", list(board.by_channel.values()))],
            unit="reports",
            digits=0,
        )
    )
    return charts


def _board(request: HttpRequest, form: MetricsFilterForm) -> metrics.Dashboard:
    """The figures for this reader and filter, kept a few minutes: the page and its CSV links agree.

    Kept per reader, because each one's scope (``reports_for``) may differ. The percentiles stream
    the timestamps of a year of reports into Python (see ``reports.metrics``): the page, and then
    each CSV export, must not pay that every time.
    """
    month, severity = form.cleaned_data["month"], form.cleaned_data["severity"]
    key = f"triage:metrics:{request.user.pk}:{month or 'now'}:{severity or 'all'}"
    board = cache.get(key)
    if board is None:
        board = metrics.dashboard(reports=reports_for(request.user), last_month=month, severity=severity)
        cache.set(key, board, CACHE_SECONDS)
    return board


def _query(form: MetricsFilterForm) -> str:
    """The filter as a query string, to carry onto the CSV links ("" when nothing is chosen)."""
    month, severity = form.cleaned_data["month"], form.cleaned_data["severity"]
    params = {"month": f"{month:%Y-%m}" if month else "", "severity": severity}
    chosen = {key: value for key, value in params.items() if value}
    return f"?{urlencode(chosen)}" if chosen else ""


@never_cache
@triager_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """The figures as charts, each with its data table and a CSV link; 400 for a bad filter."""
    form = MetricsFilterForm(request.GET)
    if not form.is_valid():
        return render(request, "triage/metrics.html", {"form": form}, status=400)
    board = _board(request, form)
    query = _query(form)
    charts = [
        {
            "chart": chart,
            "svg": render_svg(chart),
            "table": chart.table(),
            "csv_url": reverse("triage:metrics_csv", args=[chart.slug]) + query,
        }
        for chart in build_charts(board)
    ]
    last = len(board.window.months) - 1
    summary = {
        "month": board.window.labels[-1],
        "severity": metrics.SEVERITY_LABELS.get(board.severity, ""),
        "received": board.received_by_month[last],
        "times": [(metrics.MILESTONE_LABELS[m], board.times_by_month[m][last]) for m in metrics.MILESTONES],
        "targets": [(kind.label, board.targets_by_month[kind.value][last]) for kind in ClockKind],
        "backlog": board.backlog[last],
        "open_now": board.open_now,
    }
    context = {"form": form, "board": board, "charts": charts, "summary": summary}
    return render(request, "triage/metrics.html", context)


@never_cache
@triager_required
@require_GET
def export_csv(request: HttpRequest, chart: str) -> HttpResponse:
    """One chart's figures as a CSV attachment, for the same filter as the page; 404 if no such chart."""
    form = MetricsFilterForm(request.GET)
    if not form.is_valid():
        errors = "; ".join(
            f"{field}: {' '.join(str(m) for m in messages)}" for field, messages in form.errors.items()
        )
        return HttpResponse(
            f"Fix the filter: {errors}\n", status=400, content_type="text/plain; charset=utf-8"
        )
    found = next((c for c in build_charts(_board(request, form)) if c.slug == chart), None)
    if found is None:
        raise Http404("No such chart.")
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    month = form.cleaned_data["month"] or metrics.month_start(timezone.now())
    severity = form.cleaned_data["severity"]
    name = f"bastion-{found.slug}-{month:%Y-%m}{f'-{severity}' if severity else ''}.csv"
    response["Content-Disposition"] = content_disposition_header(as_attachment=True, filename=name) or ""
    csv.writer(response).writerows(found.csv_rows())
    return response
