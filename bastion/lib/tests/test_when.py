"""A moment is shown on the reader's wall clock, naming the zone; an unknown zone falls back to UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from bastion.lib.when import as_read_in, zone_named

MOMENT = datetime(2026, 3, 5, 13, 3, tzinfo=UTC)


def test_it_shows_the_readers_wall_clock_and_names_the_zone():
    assert as_read_in(MOMENT, "Europe/Paris") == "5 March 2026, 14:03 CET (Europe/Paris)"


def test_utc_is_not_named_twice():
    assert as_read_in(MOMENT, "UTC") == "5 March 2026, 13:03 UTC"


def test_an_unknown_zone_is_shown_in_utc_and_says_so():
    assert zone_named("Mars/Olympus")[1] == "UTC"
    assert as_read_in(MOMENT, "Mars/Olympus") == "5 March 2026, 13:03 UTC"
