"""A moment as a person reads it in their own time zone, the same way in every mail and message."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo


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
