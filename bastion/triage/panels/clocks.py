"""The clocks panel on the report page: each response target, its state and its due time.

Times are shown in the *viewer's* time zone (their profile's), with the zone named, so a team
spread over continents reads one due time each without arithmetic. Percentages count working
time as the report's program does, so a business-hours target does not look late on a Sunday.
Nothing here is sealed content: showing the panel reads no report plaintext.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.http import HttpRequest
from django.utils import timezone

from bastion.lib.when import zone_named
from bastion.reports.clocks import clock_state, elapsed_fraction, program_for
from bastion.reports.models import Clock, ClockKind, Program, Report

STATE_LABELS = {
    "running": "Running",
    "paused": "Paused: waiting on the reporter",
    "met": "Met on time",
    "met_late": "Met late",
    "breached": "Breached",
    "stopped": "Stopped",
}


@dataclass(frozen=True)
class ClockRow:
    """One clock as the panel shows it; times already in the viewer's zone."""

    kind: str
    label: str
    state: str
    state_label: str
    due: str  # "" while paused
    due_iso: str
    ended: str  # when it was met or stopped, "" while open
    percent: int | None  # running clocks only
    hours_left: float | None  # paused clocks only: working hours kept for the resume
    breached: bool


def context(request: HttpRequest, report: Report, bound: Mapping[str, forms.Form]) -> dict[str, Any]:
    """Context for ``triage/panels/clocks.html``: ``clock_rows``, open clocks first, and ``clock_zone``."""
    zone, zone_name = zone_named(getattr(request.user, "time_zone", "") or "UTC")
    now = timezone.now()
    program = program_for(report)
    clocks = sorted(report.clocks.all(), key=lambda c: (not c.is_open, c.started_at, c.pk))
    rows = [_row(clock, program=program, zone=zone, now=now) for clock in clocks]
    return {"clock_rows": rows, "clock_zone": zone_name}


def _local(instant: datetime | None, zone: ZoneInfo) -> str:
    return f"{instant.astimezone(zone):%Y-%m-%d %H:%M %Z}" if instant is not None else ""


def _row(clock: Clock, *, program: Program, zone: ZoneInfo, now: datetime) -> ClockRow:
    state = clock_state(clock, now)
    running = state == "running"
    return ClockRow(
        kind=clock.kind,
        label=str(ClockKind(clock.kind).label),
        state=state,
        state_label=STATE_LABELS[state],
        due=_local(clock.due_at, zone),
        due_iso=clock.due_at.isoformat() if clock.due_at else "",
        ended=_local(clock.met_at or clock.stopped_at, zone),
        percent=round(100 * elapsed_fraction(clock, program, now)) if running else None,
        hours_left=round((clock.remaining_seconds or 0) / 3600, 1) if state == "paused" else None,
        breached=clock.breached_at is not None or state == "breached",
    )
