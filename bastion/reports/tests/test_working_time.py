"""Working time: calendar hours by default, business hours and holidays per program, right over DST."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.reports.working_time import (
    due_after,
    due_before,
    validate_business_hours,
    validate_holidays,
    working_seconds_between,
)

PARIS = ZoneInfo("Europe/Paris")
HOUR = 3600
OFFICE = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}


@dataclass(frozen=True)
class Terms:
    """A program's terms without the database (``Program`` has the same three attributes)."""

    business_hours: Any = None
    holidays: list[str] = field(default_factory=list)
    time_zone: str = "Europe/Paris"


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS)


def test_it_counts_calendar_hours_as_elapsed_time_across_a_dst_change():
    # The clocks went forward in the night of 29-30 March 2025: the wall clock shows 25 hours later.
    start = paris(2025, 3, 29, 12, 0)
    due = due_after(start, 24 * HOUR, Terms())
    assert due - start == timedelta(hours=24)
    assert due.astimezone(PARIS) == paris(2025, 3, 30, 13, 0)
    assert working_seconds_between(start, due, Terms()) == 24 * HOUR


def test_it_skips_a_holiday_whole_in_calendar_hours():
    terms = Terms(holidays=["2025-12-25"])
    due = due_after(paris(2025, 12, 24, 12, 0), 24 * HOUR, terms)
    assert due.astimezone(PARIS) == paris(2025, 12, 26, 12, 0)


def test_it_carries_business_hours_over_the_weekend():
    terms = Terms(business_hours=OFFICE)
    friday = paris(2025, 6, 6, 16, 0)
    due = due_after(friday, 2 * HOUR, terms)
    assert due.astimezone(PARIS) == paris(2025, 6, 9, 10, 0)
    assert working_seconds_between(friday, due, terms) == 2 * HOUR


def test_it_keeps_office_hours_on_the_wall_clock_over_a_dst_change():
    # Friday 16:00 CET (15:00 UTC) plus two office hours is Monday 10:00 CEST, which is 08:00 UTC.
    due = due_after(paris(2025, 3, 28, 16, 0), 2 * HOUR, Terms(business_hours=OFFICE))
    assert due == datetime(2025, 3, 31, 8, 0, tzinfo=UTC)


def test_it_skips_holidays_in_business_hours_too():
    terms = Terms(business_hours=OFFICE, holidays=["2025-06-09"])  # Whit Monday
    due = due_after(paris(2025, 6, 6, 16, 0), 2 * HOUR, terms)
    assert due.astimezone(PARIS) == paris(2025, 6, 10, 10, 0)


def test_time_ending_with_the_office_day_is_due_that_evening():
    due = due_after(paris(2025, 6, 2, 9, 0), 8 * HOUR, Terms(business_hours=OFFICE))
    assert due.astimezone(PARIS) == paris(2025, 6, 2, 17, 0)


def test_it_starts_counting_at_opening_time_outside_office_hours():
    terms = Terms(business_hours=OFFICE)
    due = due_after(paris(2025, 6, 7, 23, 0), HOUR, terms)  # Saturday night
    assert due.astimezone(PARIS) == paris(2025, 6, 9, 10, 0)
    assert working_seconds_between(paris(2025, 6, 7, 0, 0), paris(2025, 6, 8, 23, 59), terms) == 0


def test_it_counts_backwards_to_the_same_instant():
    terms = Terms(business_hours=OFFICE, holidays=["2025-06-09"])
    monday = paris(2025, 6, 10, 10, 0)
    assert due_before(monday, 2 * HOUR, terms).astimezone(PARIS) == paris(2025, 6, 6, 16, 0)
    assert due_after(monday, -2 * HOUR, terms) == due_before(monday, 2 * HOUR, terms)


def test_it_accepts_an_office_day_that_runs_to_midnight():
    terms = Terms(business_hours={"days": [0], "start": "20:00", "end": "24:00"})
    due = due_after(paris(2025, 6, 2, 23, 0), 2 * HOUR, terms)
    assert due.astimezone(PARIS) == paris(2025, 6, 9, 21, 0)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([0, 1], "must be empty .calendar hours. or look like"),
        ({"days": [0]}, "missing end, start"),
        ({**OFFICE, "tz": "UTC"}, "unknown tz"),
        ({**OFFICE, "days": []}, "days must be a non-empty list"),
        ({**OFFICE, "days": [7]}, "0 .Monday. to 6 .Sunday."),
        ({**OFFICE, "days": [1, 1]}, "distinct"),
        ({**OFFICE, "days": [True]}, "weekday numbers"),
        ({**OFFICE, "start": "9:00"}, "start must be a time written as HH:MM"),
        ({**OFFICE, "end": "25:00"}, "end must be a time written as HH:MM, 00:00 to 24:00"),
        ({**OFFICE, "start": "18:00"}, r"start \(18:00\) must be before end \(17:00\)"),
    ],
)
def test_it_explains_what_is_wrong_with_business_hours(value, message):
    with pytest.raises(ValueError, match=message):
        validate_business_hours(value)


def test_it_accepts_calendar_hours_and_office_hours():
    validate_business_hours(None)
    validate_business_hours(OFFICE)
    validate_business_hours({"days": [5, 6], "start": "00:00", "end": "24:00"})


@pytest.mark.parametrize("value", ["2025-12-25", ["25/12/2025"], ["2025-02-30"], [20251225]])
def test_it_explains_what_is_wrong_with_holidays(value):
    with pytest.raises(ValueError, match=r"YYYY-MM-DD|list of dates"):
        validate_holidays(value)


def test_it_refuses_terms_it_cannot_count_with():
    with pytest.raises(ValueError, match="not a known time zone"):
        due_after(paris(2025, 6, 2, 9, 0), HOUR, Terms(time_zone="Mars/Olympus"))
    with pytest.raises(ValueError, match="days must be"):
        due_after(paris(2025, 6, 2, 9, 0), HOUR, Terms(business_hours={**OFFICE, "days": "weekdays"}))


TERMS = st.sampled_from(
    [
        Terms(),
        Terms(holidays=["2025-03-30", "2025-10-26", "2025-12-25"]),
        Terms(business_hours=OFFICE, holidays=["2025-03-31", "2025-12-25"]),
        Terms(business_hours={"days": [6], "start": "01:30", "end": "03:30"}),  # straddles DST changes
        Terms(business_hours=OFFICE, time_zone="America/New_York"),
    ]
)
INSTANTS = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2026, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=200, deadline=None)
@given(terms=TERMS, start=INSTANTS, seconds=st.integers(min_value=0, max_value=2000 * HOUR))
def test_due_after_and_working_seconds_between_round_trip(terms, start, seconds):
    due = due_after(start, seconds, terms)
    assert due >= start
    assert working_seconds_between(start, due, terms) == pytest.approx(seconds, abs=1e-6)
    assert due_before(due, seconds, terms) <= due


@settings(max_examples=200, deadline=None)
@given(terms=TERMS, a=INSTANTS, b=INSTANTS)
def test_working_time_never_exceeds_elapsed_time_and_never_overshoots(terms, a, b):
    counted = working_seconds_between(a, b, terms)
    assert 0 <= counted <= max(0.0, (b - a).total_seconds())
    if b > a:
        assert due_after(a, counted, terms) <= b
