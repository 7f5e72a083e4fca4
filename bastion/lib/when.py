"""A moment as a person reads it in their own time zone, the same way in every mail and message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

# Years a person may type for a deadline or an embargo's end. Django accepts year 9999, whose late
# hours overflow when converted to UTC from a zone west of it; no embargo needs the calendar's edges.
EARLIEST_YEAR, LATEST_YEAR = 1971, 8999
YEAR_REFUSAL = f"Give a year between {EARLIEST_YEAR} and {LATEST_YEAR}."


def plausible_year(year: int) -> bool:
    """Whether ``year`` converts between zones safely (see ``EARLIEST_YEAR``/``LATEST_YEAR``)."""
    return EARLIEST_YEAR <= year <= LATEST_YEAR


def zone_named(name: str) -> tuple[ZoneInfo, str]:
    """The zone ``name`` and its name; UTC for a name this machine does not know.

    Names are validated on input, but a row may predate a zone's removal from the tz database:
    a message must still go out, in UTC and saying so.
    """
    try:
        return ZoneInfo(name), name
    except (ValueError, KeyError):
        return ZoneInfo("UTC"), "UTC"


def as_read_in(moment: datetime, zone_name: str) -> str:
    """``moment`` on ``zone_name``'s wall clock: "5 March 2026, 14:03 CET (Europe/Paris)"."""
    zone, name = zone_named(zone_name)
    local = moment.astimezone(zone)
    shown = f"{local.day} {local:%B %Y, %H:%M} {local:%Z}"
    return shown if local.tzname() == name else f"{shown} ({name})"
