"""Working time: how a program counts the hours of a response target (pure functions, no database).

A program counts **calendar hours** (``business_hours`` is None, the default: attackers keep no
office hours) or **business hours** (``{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}``,
Monday = 0, read in the program's ``time_zone``). Either way the dates in ``holidays`` (ISO dates,
in that zone) are skipped whole.

Time is split into *spans*: one per local date, the part of that date that counts (all of it, the
office hours, or nothing). Spans are built from local wall times and only then converted to UTC,
so a business day is 09:00-17:00 on the clock on the wall whether the zone is on summer or winter
time, and a calendar day over a DST change is 23 or 25 real hours long. All arithmetic is done
on UTC datetimes: Python compares and subtracts two datetimes sharing one ``ZoneInfo`` by their
wall times, ignoring the offset, which is wrong across a DST change.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

logger = logging.getLogger(__name__)

# A target is at most a PositiveIntegerField of seconds; no real calendar needs more days than
# this to find that much working time. Past it the terms are taken to hold no working time at all.
MAX_DAYS = 40_000

_HH_MM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BUSINESS_KEYS = frozenset({"days", "start", "end"})
_EXAMPLE = '{"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}'


class Terms(Protocol):
    """What of a program the arithmetic reads (``reports.models.Program`` fits)."""

    @property
    def business_hours(self) -> Any: ...

    @property
    def holidays(self) -> Any: ...

    @property
    def time_zone(self) -> str: ...


@dataclass(frozen=True)
class CalendarHours:
    """Plain calendar hours, nothing skipped: the terms used when a program's own cannot be read."""

    business_hours: None = None
    holidays: tuple[str, ...] = ()
    time_zone: str = "UTC"


def usable_terms(terms: Terms) -> Terms:
    """``terms`` if they can be counted with, else calendar hours (and a warning in the log).

    The program form validates what it saves, but a clock is started inside the submission of a
    report: terms broken some other way (a hand-edited row, a time zone this machine's tzdata no
    longer knows) must cost a target's precision, never the report.
    """
    try:
        _calendar(terms)
    except ValueError as error:
        logger.warning("Program terms unusable, counting calendar hours instead: %s", error)
        return CalendarHours()
    return terms


# --- Validation: the program settings form shows these messages as they are -----------------------


def validate_business_hours(value: object) -> None:
    """Raise ValueError, with a message a person can act on, unless ``value`` is valid business hours.

    ``None`` (calendar hours) is valid. Otherwise a mapping with exactly ``days`` (a non-empty list
    of distinct weekday numbers, Monday = 0 to Sunday = 6), ``start`` and ``end`` ("HH:MM", 24-hour;
    ``end`` may be "24:00"), with ``start`` before ``end``: shifts over midnight are not supported.
    """
    if value is None:
        return
    if not isinstance(value, dict):
        raise ValueError(f"Business hours must be empty (calendar hours) or look like {_EXAMPLE}.")
    missing, unknown = _BUSINESS_KEYS - set(value), set(value) - _BUSINESS_KEYS
    if missing or unknown:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(sorted(missing)))
        if unknown:
            parts.append("unknown " + ", ".join(sorted(map(str, unknown))))
        raise ValueError(f"Business hours: {'; '.join(parts)}. Expected {_EXAMPLE}.")
    days = value["days"]
    if (
        not isinstance(days, list)
        or not days
        or any(isinstance(d, bool) or not isinstance(d, int) or not 0 <= d <= 6 for d in days)
        or len(set(days)) != len(days)
    ):
        raise ValueError(
            "Business hours: days must be a non-empty list of distinct weekday numbers, "
            "0 (Monday) to 6 (Sunday), e.g. [0, 1, 2, 3, 4]."
        )
    start = _parse_clock_time(value["start"], "start", allow_midnight_end=False)
    end = _parse_clock_time(value["end"], "end", allow_midnight_end=True)
    if value["end"] != "24:00" and start >= end:
        raise ValueError(
            f"Business hours: start ({value['start']}) must be before end ({value['end']}); "
            "hours that run past midnight are not supported."
        )


def validate_holidays(value: object) -> None:
    """Raise ValueError unless ``value`` is a list of ISO dates ("2025-12-25")."""
    if not isinstance(value, list):
        raise ValueError('Holidays must be a list of dates such as ["2025-12-25", "2026-01-01"].')
    for item in value:
        try:
            valid = isinstance(item, str) and bool(_ISO_DATE.match(item)) and bool(date.fromisoformat(item))
        except ValueError:  # well formed, but no such day (2025-02-30)
            valid = False
        if not valid:
            raise ValueError(f"Holidays: {item!r} is not a date written as YYYY-MM-DD.")


def _parse_clock_time(text: object, name: str, *, allow_midnight_end: bool) -> time:
    """``text`` ("HH:MM") as a time; "24:00" (end only) is returned as midnight and read as the next day's."""
    if allow_midnight_end and text == "24:00":
        return time(0)
    match = _HH_MM.match(text) if isinstance(text, str) else None
    if match is None:
        latest = "24:00" if allow_midnight_end else "23:59"
        raise ValueError(
            f"Business hours: {name} must be a time written as HH:MM, 00:00 to {latest} (got {text!r})."
        )
    return time(int(match[1]), int(match[2]))


# --- The calendar a program's terms describe ------------------------------------------------------


@dataclass(frozen=True)
class _Calendar:
    """Parsed terms, hashable so each date's span is computed once per process (see ``_span``)."""

    zone: ZoneInfo
    holidays: frozenset[date]
    days: frozenset[int] | None  # None: calendar hours
    start: time = time(0)
    end: time | None = None  # None: the next local midnight


def _calendar(terms: Terms) -> _Calendar:
    """The calendar of ``terms``; ValueError (naming what is wrong) when they are not valid."""
    try:
        zone = ZoneInfo(terms.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{terms.time_zone!r} is not a known time zone.") from None
    hours, holidays = terms.business_hours, terms.holidays or []
    validate_business_hours(hours)
    validate_holidays(holidays)
    parsed = frozenset(date.fromisoformat(d) for d in holidays)
    if hours is None:
        return _Calendar(zone=zone, holidays=parsed, days=None)
    start = _parse_clock_time(hours["start"], "start", allow_midnight_end=False)
    end = None if hours["end"] == "24:00" else _parse_clock_time(hours["end"], "end", allow_midnight_end=True)
    return _Calendar(zone=zone, holidays=parsed, days=frozenset(hours["days"]), start=start, end=end)


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant (UTC) the wall clock in ``zone`` shows ``at`` on ``day``.

    A wall time that happens twice (autumn) is its first occurrence; one that never happens (the
    spring gap) is read with the offset before the change, i.e. that many minutes after the jump.
    """
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


@functools.lru_cache(maxsize=16_384)
def _span(calendar: _Calendar, day: date) -> tuple[datetime, datetime] | None:
    """The part of local ``day`` that counts, in UTC; None for a day off."""
    if day in calendar.holidays or (calendar.days is not None and day.weekday() not in calendar.days):
        return None
    start = _wall(day, calendar.start, calendar.zone)
    if calendar.end is None:
        # A day that runs to midnight ends where the next one starts, so calendar days tile exactly.
        end = _wall(day + timedelta(days=1), time(0), calendar.zone)
    else:
        end = _wall(day, calendar.end, calendar.zone)
    # Office hours that fall wholly inside a spring-forward gap are no time at all that day.
    return (start, end) if end > start else None


def _spans_forward(calendar: _Calendar, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The spans that end after ``instant``, clipped to start no earlier than it, in order."""
    # From the day before: a span never starts before its own local midnight, so nothing earlier
    # can reach ``instant``, and one day's margin covers a midnight skipped by a DST change.
    day = instant.astimezone(calendar.zone).date() - timedelta(days=1)
    for offset in range(MAX_DAYS):
        span = _span(calendar, day + timedelta(days=offset))
        if span is not None and span[1] > instant:
            yield max(span[0], instant), span[1]
    raise ValueError(f"These terms hold no working time in the {MAX_DAYS} days after {instant:%Y-%m-%d}.")


def _spans_backward(calendar: _Calendar, instant: datetime) -> Iterator[tuple[datetime, datetime]]:
    """The spans that start before ``instant``, clipped to end no later than it, latest first."""
    day = instant.astimezone(calendar.zone).date() + timedelta(days=1)
    for offset in range(MAX_DAYS):
        span = _span(calendar, day - timedelta(days=offset))
        if span is not None and span[0] < instant:
            yield span[0], min(span[1], instant)
    raise ValueError(f"These terms hold no working time in the {MAX_DAYS} days before {instant:%Y-%m-%d}.")


def _utc(instant: datetime) -> datetime:
    if instant.tzinfo is None:
        raise ValueError("Working time needs aware datetimes (use django.utils.timezone.now()).")
    return instant.astimezone(UTC)


# --- The arithmetic ----------------------------------------------------------------------------


def due_after(start: datetime, seconds: float, terms: Terms) -> datetime:
    """The instant (UTC) by which ``seconds`` of working time have passed since ``start``.

    Working time that runs out exactly at the end of a business day is due then, not the next
    morning. Negative ``seconds`` count backwards (see :func:`due_before`).
    """
    if seconds < 0:
        return due_before(start, -seconds, terms)
    start = _utc(start)
    calendar = _calendar(terms)
    remaining = timedelta(seconds=seconds)
    if calendar.days is None and not calendar.holidays:
        return start + remaining  # calendar hours, nothing skipped: plain elapsed time
    if not remaining:
        return start
    for begin, end in _spans_forward(calendar, start):
        if end - begin >= remaining:
            return begin + remaining
        remaining -= end - begin
    raise AssertionError("unreachable: _spans_forward raises when it runs out")


def due_before(end: datetime, seconds: float, terms: Terms) -> datetime:
    """The latest instant (UTC) from which ``seconds`` of working time run until ``end``."""
    end = _utc(end)
    calendar = _calendar(terms)
    remaining = timedelta(seconds=seconds)
    if calendar.days is None and not calendar.holidays:
        return end - remaining
    if not remaining:
        return end
    for begin, stop in _spans_backward(calendar, end):
        if stop - begin >= remaining:
            return stop - remaining
        remaining -= stop - begin
    raise AssertionError("unreachable: _spans_backward raises when it runs out")


def working_seconds_between(a: datetime, b: datetime, terms: Terms) -> float:
    """How many seconds of working time lie between ``a`` and ``b``; 0 when ``b`` is not after ``a``."""
    a, b = _utc(a), _utc(b)
    if b <= a:
        return 0.0
    calendar = _calendar(terms)
    if calendar.days is None and not calendar.holidays:
        return (b - a).total_seconds()
    total = timedelta(0)
    for begin, end in _spans_forward(calendar, a):
        if begin >= b:
            break
        total += min(end, b) - begin
    return total.total_seconds()
