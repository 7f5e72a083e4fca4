"""Response metrics: how fast reports are answered, triaged, decided and resolved. Read-only.

Every figure is an aggregate over clear metadata (timestamps, states, channels, severities, clock
outcomes). Nothing here opens sealed content, so computing a figure is not a read of any report
and records nothing.

Choices, each with its reason:

- **A report counts in the month it was received** (a cohort), in every figure but the backlog.
  The window is a range of ``received_at``, which is indexed, so at a million reports a 12-month
  window reads those months' rows and no others. The price is that a recent month's figures are
  provisional until its reports reach each milestone: ``Durations.pending`` says how many have
  not yet, and the dashboard shows it beside the median.
- **UTC calendar months**, not a program's time zone: programs may sit in different zones, and a
  month's figures must not change with who looks or which program is picked.
- **Percentiles in Python**: SQLite has no percentile function (PostgreSQL's ``percentile_cont``
  does not port), so the narrow columns (a few timestamps, the severity, and per-target flags
  worked out in SQL) are streamed and sorted here. Counts (by state, by channel, the backlog) are
  SQL aggregates.
- The median of an even count is the mean of the two middle values; the 90th percentile is the
  nearest-rank value, an actual duration ("90 % of reports were answered within this").
- **Inside a target** is judged from the report's clocks of that kind: inside when one was met and
  none breached, breached when any breached (even if met late). Clocks still running or stopped
  without a breach (the target stopped applying) are neither, and are left out of the share.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from bastion.reports.models import Channel, Clock, ClockKind, Program, Report, Severity
from bastion.reports.workflow import CLOSED, Status, is_closed

WINDOW_MONTHS = 12
# The four durations, in the order a report meets them.
MILESTONES: tuple[str, ...] = ("first_response", "triage", "bounty_decision", "resolution")
MILESTONE_LABELS = {
    "first_response": "First response",
    "triage": "Triage",
    "bounty_decision": "Bounty decision",
    "resolution": "Resolution",
}
# Reports not scored yet (blank severity) are a group of their own, never dropped.
UNRATED = "unrated"
SEVERITIES: tuple[str, ...] = (
    Severity.CRITICAL,
    Severity.HIGH,
    Severity.MEDIUM,
    Severity.LOW,
    Severity.NONE,
    UNRATED,
)
SEVERITY_LABELS = {**{str(value): str(label) for value, label in Severity.choices}, UNRATED: "Unrated"}

PUBLIC_DAYS = 90
# Fewer reports than this behind a public figure and it is withheld: see public_summary().
PUBLIC_MIN_COUNT = 5
# What the public page reports on (the bounty decision is a private matter between us and each reporter).
PUBLIC_MILESTONES: tuple[str, ...] = ("first_response", "triage", "resolution")
PUBLIC_TARGETS: tuple[str, ...] = (ClockKind.FIRST_RESPONSE, ClockKind.TRIAGE, ClockKind.RESOLUTION)

_SECONDS_PER_HOUR = 3600.0
_ROWS_PER_FETCH = 2000


# --- The window ----------------------------------------------------------------------------------


def month_start(moment: datetime | date) -> date:
    """The first day of the UTC calendar month ``moment`` falls in."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(UTC).date()
    return moment.replace(day=1)


def next_month(month: date) -> date:
    """The first day of the month after ``month``."""
    return date(month.year + month.month // 12, month.month % 12 + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@dataclass(frozen=True)
class Window:
    """Consecutive UTC months, oldest first, as seen at ``now`` (the last may still be running)."""

    months: tuple[date, ...]
    now: datetime

    @property
    def start(self) -> datetime:
        """When the first month began."""
        return _midnight(self.months[0])

    def month_end(self, index: int) -> datetime:
        """When month ``index`` ends, or ``now`` if it has not ended yet."""
        return min(_midnight(next_month(self.months[index])), self.now)

    @property
    def end(self) -> datetime:
        """When the window ends (exclusive)."""
        return self.month_end(len(self.months) - 1)

    @property
    def labels(self) -> list[str]:
        """``2025-03``-style names of the months: sortable, and the same in every language."""
        return [f"{month:%Y-%m}" for month in self.months]

    def index_of(self, moment: datetime) -> int | None:
        """Which month of the window ``moment`` falls in (None: outside it)."""
        month = month_start(moment)
        first = self.months[0]
        index = (month.year - first.year) * 12 + month.month - first.month
        return index if 0 <= index < len(self.months) else None


def month_window(
    last: date | None = None, *, count: int = WINDOW_MONTHS, now: datetime | None = None
) -> Window:
    """``count`` months ending with the month of ``last`` (default: this month; never a future one)."""
    if count < 1:
        raise ValueError("A window holds at least one month.")
    now = now or timezone.now()
    final = min(month_start(last or now), month_start(now))
    months = [final]
    for _ in range(count - 1):
        previous = months[0] - timedelta(days=1)
        months.insert(0, previous.replace(day=1))
    return Window(months=tuple(months), now=now)


# --- Figures -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Durations:
    """How long reports took to reach one milestone: ``count`` that reached it, ``pending`` not yet."""

    count: int = 0
    pending: int = 0
    median_hours: float | None = None
    p90_hours: float | None = None


def summarize(hours: Iterable[float], *, pending: int = 0) -> Durations:
    """The median and nearest-rank 90th percentile of ``hours`` (None for both when empty)."""
    ordered = sorted(hours)
    if not ordered:
        return Durations(pending=pending)
    rank = math.ceil(0.9 * len(ordered))  # nearest rank: the smallest value with 90 % at or below it
    return Durations(
        count=len(ordered),
        pending=pending,
        median_hours=float(statistics.median(ordered)),
        p90_hours=float(ordered[rank - 1]),
    )


@dataclass(frozen=True)
class TargetShare:
    """Reports inside one target (met, never breached) against those that breached it."""

    inside: int = 0
    breached: int = 0

    @property
    def total(self) -> int:
        """Reports with an outcome for this target."""
        return self.inside + self.breached

    @property
    def percent(self) -> float | None:
        """The share inside, 0-100, one decimal; None when no report has an outcome yet."""
        return round(100.0 * self.inside / self.total, 1) if self.total else None


@dataclass(frozen=True)
class Dashboard:
    """Everything the staff dashboard draws, for one window and (optionally) one severity.

    Lists run parallel to ``window.months``. ``backlog`` is the number of open reports at each
    month's end (the running month: now), ``open_now`` the number open now.
    """

    window: Window
    severity: str
    times_by_month: dict[str, list[Durations]]
    times_by_severity: dict[str, dict[str, Durations]]
    times: dict[str, Durations]
    targets_by_month: dict[str, list[TargetShare]]
    targets: dict[str, TargetShare]
    received_by_month: list[int]
    backlog: list[int]
    open_now: int
    by_state: dict[str, int]
    by_channel: dict[str, int]


# --- Reading the rows ----------------------------------------------------------------------------


def _with_outcomes(reports: QuerySet[Report]) -> QuerySet[Report]:
    """``reports`` with a met/breached flag per clock kind, worked out in SQL (EXISTS per kind)."""
    flags: dict[str, Any] = {}
    for kind in ClockKind:
        clocks = Clock.objects.filter(report=OuterRef("pk"), kind=kind.value)
        flags[f"{kind.value}_met"] = Exists(clocks.filter(met_at__isnull=False))
        flags[f"{kind.value}_breached"] = Exists(clocks.filter(breached_at__isnull=False))
    return reports.annotate(bounty_uid=F("bounty__uid"), bounty_decided_at=F("bounty__decided_at"), **flags)


def _rows(cohort: QuerySet[Report]) -> Iterator[Any]:
    """The narrow columns of every report in ``cohort``, streamed (never whole model instances)."""
    columns = ["received_at", "severity", "status", "first_response_at", "triaged_at", "closed_at"]
    outcomes = [f"{kind.value}_{outcome}" for kind in ClockKind for outcome in ("met", "breached")]
    rows = _with_outcomes(cohort.order_by()).values_list(
        *columns, "bounty_uid", "bounty_decided_at", *outcomes, named=True
    )
    return rows.iterator(chunk_size=_ROWS_PER_FETCH)


def _hours_to(row: Any, milestone: str) -> tuple[float | None, bool]:
    """Hours from receipt to ``milestone`` (None if not reached) and whether it is still owed."""
    still_open = not is_closed(row.status)
    if milestone == "first_response":
        end, owed = row.first_response_at, still_open
    elif milestone == "triage":
        end, owed = row.triaged_at, still_open
    elif milestone == "bounty_decision":
        end, owed = row.bounty_decided_at, row.bounty_uid is not None
    else:  # resolution: a fix, not any way of closing (spam closed in a minute is not a resolution)
        end = row.closed_at if row.status == Status.RESOLVED else None
        owed = still_open
    if end is None:
        return None, owed
    # Imported or hand-fixed data may put a milestone before receipt: never a negative duration.
    return max(0.0, (end - row.received_at).total_seconds() / _SECONDS_PER_HOUR), False


def _outcome(row: Any, kind: str) -> str | None:
    """``"breached"``, ``"inside"`` or None (no outcome yet) for the report's ``kind`` clocks."""
    if getattr(row, f"{kind}_breached"):
        return "breached"
    if getattr(row, f"{kind}_met"):
        return "inside"
    return None


@dataclass
class _Tally:
    """Hours and outcomes gathered for one group of reports (a month, a severity, everything)."""

    hours: dict[str, list[float]] = field(default_factory=lambda: {m: [] for m in MILESTONES})
    pending: Counter[str] = field(default_factory=Counter)
    outcomes: dict[str, Counter[str]] = field(default_factory=lambda: {k.value: Counter() for k in ClockKind})
    received: int = 0

    def add(self, row: Any) -> None:
        self.received += 1
        for milestone in MILESTONES:
            hours, owed = _hours_to(row, milestone)
            if hours is not None:
                self.hours[milestone].append(hours)
            elif owed:
                self.pending[milestone] += 1
        for kind in ClockKind:
            outcome = _outcome(row, kind.value)
            if outcome:
                self.outcomes[kind.value][outcome] += 1

    def durations(self, milestone: str) -> Durations:
        return summarize(self.hours[milestone], pending=self.pending[milestone])

    def share(self, kind: str) -> TargetShare:
        return TargetShare(inside=self.outcomes[kind]["inside"], breached=self.outcomes[kind]["breached"])


def _severity_filter(reports: QuerySet[Report], severity: str) -> QuerySet[Report]:
    if not severity:
        return reports
    if severity not in SEVERITIES:
        raise ValueError(f"Unknown severity {severity!r}: choose one of {', '.join(SEVERITIES)}.")
    return reports.filter(severity="" if severity == UNRATED else severity)


# --- The dashboard -------------------------------------------------------------------------------


def dashboard(
    *,
    reports: QuerySet[Report] | None = None,
    last_month: date | None = None,
    severity: str = "",
    months: int = WINDOW_MONTHS,
    now: datetime | None = None,
) -> Dashboard:
    """The staff dashboard's figures over ``reports`` (the reader's scope; default: all).

    ``months`` UTC months ending with ``last_month`` (default: this month); ``severity`` narrows
    every figure to one severity (or ``"unrated"``). ValueError for an unknown severity.
    """
    window = month_window(last_month, count=months, now=now)
    scope = _severity_filter(Report.objects.all() if reports is None else reports, severity)
    cohort = scope.filter(received_at__gte=window.start, received_at__lt=window.end)

    overall = _Tally()
    per_month = [_Tally() for _ in window.months]
    per_severity = {name: _Tally() for name in SEVERITIES}
    for row in _rows(cohort):
        index = window.index_of(row.received_at)
        if index is None:  # cannot happen with the filter above; kept so a bad bound never crashes
            continue
        overall.add(row)
        per_month[index].add(row)
        per_severity[row.severity or UNRATED].add(row)

    return Dashboard(
        window=window,
        severity=severity,
        times_by_month={m: [tally.durations(m) for tally in per_month] for m in MILESTONES},
        times_by_severity={
            m: {name: tally.durations(m) for name, tally in per_severity.items()} for m in MILESTONES
        },
        times={m: overall.durations(m) for m in MILESTONES},
        targets_by_month={k.value: [tally.share(k.value) for tally in per_month] for k in ClockKind},
        targets={k.value: overall.share(k.value) for k in ClockKind},
        received_by_month=[tally.received for tally in per_month],
        backlog=backlog(scope, window),
        open_now=scope.exclude(status__in=CLOSED).count(),
        by_state=_counts(cohort, "status", [s.value for s in Status]),
        by_channel=_counts(cohort, "channel", [c.value for c in Channel]),
    )


def _counts(cohort: QuerySet[Report], column: str, order: list[str]) -> dict[str, int]:
    """Reports in ``cohort`` per value of ``column``, every value listed (zeros included), in order."""
    found = {row[column]: row["n"] for row in cohort.order_by().values(column).annotate(n=Count("pk"))}
    return {value: found.get(value, 0) for value in order}


def backlog(scope: QuerySet[Report], window: Window) -> list[int]:
    """Reports open at each month's end: open now, less those received since, plus those closed since.

    Worked back from now, so only what happened since the window began is counted: receipts by the
    ``received_at`` index; closes by the ``closed_at`` index (``report_closed``): neither count
    reads more than the rows since the window began.
    ``closed_at`` is a report's latest close (cleared on reopen), so a report closed, reopened and
    closed again counts as open between its first and last close: the figure is a close bound.
    """
    ends = [window.month_end(i) for i in range(len(window.months))]
    open_now = scope.exclude(status__in=CLOSED).count()
    received = scope.filter(received_at__gte=ends[0]).aggregate(
        **{f"m{i}": Count("pk", filter=Q(received_at__gte=end)) for i, end in enumerate(ends)}
    )
    closed = scope.filter(closed_at__gte=ends[0]).aggregate(
        **{f"m{i}": Count("pk", filter=Q(closed_at__gte=end)) for i, end in enumerate(ends)}
    )
    return [max(0, open_now - received[f"m{i}"] + closed[f"m{i}"]) for i in range(len(ends))]


# --- The public page -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PublicSummary:
    """Rolling figures for ``/security/stats``. Every value is None when it is withheld.

    A figure drawn from fewer than ``PUBLIC_MIN_COUNT`` reports is withheld: a median of one or
    two reports is those reports' own timings, which their reporters (or anyone who knows when a
    report was sent) could match to a report. Only totals, medians and shares are kept, never
    anything per report.
    """

    since: datetime
    until: datetime
    received: int | None
    resolved: int | None
    median_hours: dict[str, float | None]
    inside_target: dict[str, float | None]


def _published() -> Q:
    """Reports worked under a program that publishes its figures.

    A report without an asset follows the default program, which publishes: the caller has checked.
    """
    return Q(asset__program__publish_stats=True) | Q(asset__isnull=True)


def public_summary(*, now: datetime | None = None, days: int = PUBLIC_DAYS) -> PublicSummary | None:
    """The last ``days`` days' public figures, or None when the default program does not publish.

    Reports received in the window under a publishing program, spam left out (it is not a report
    and a flood of it would say nothing about how reports are handled).
    """
    if not Program.objects.filter(is_default=True, publish_stats=True).exists():
        return None
    until = now or timezone.now()
    since = until - timedelta(days=days)
    cohort = (
        Report.objects.filter(received_at__gte=since, received_at__lt=until)
        .filter(_published())
        .exclude(status=Status.SPAM)
    )
    tally = _Tally()
    for row in _rows(cohort):
        tally.add(row)

    def enough(count: int) -> bool:
        return count >= PUBLIC_MIN_COUNT

    medians: dict[str, float | None] = {}
    for milestone in PUBLIC_MILESTONES:
        figure = tally.durations(milestone)
        medians[milestone] = figure.median_hours if enough(figure.count) else None
    shares: dict[str, float | None] = {}
    for kind in PUBLIC_TARGETS:
        share = tally.share(kind)
        shares[kind] = share.percent if enough(share.total) else None
    resolved = len(tally.hours["resolution"])
    return PublicSummary(
        since=since,
        until=until,
        received=tally.received if enough(tally.received) else None,
        resolved=resolved if enough(resolved) else None,
        median_hours=medians,
        inside_target=shares,
    )
