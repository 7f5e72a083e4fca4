"""Retention: which archives grandfather-father-son keeps, and pruning a destination down to them."""

import os
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.vault.backup.destinations import (
    DestinationError,
    DirectoryDestination,
    Keep,
    archive_time,
)
from bastion.vault.backup.retention import PruneResult, archives_to_keep, prune
from bastion.vault.backup.s3 import S3Destination
from bastion.vault.testing import make_bucket

# A Wednesday evening; its ISO week runs from Monday 23 to Sunday 29 November 2026.
NOW = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)


def name_at(when: datetime, suffix: str = "abcdef") -> str:
    return f"bastion-{when:%Y%m%dT%H%M%SZ}-{suffix}.tar.gpg"


def taken(name: str) -> datetime:
    when = archive_time(name)
    assert when is not None
    return when


def days(*dates: date) -> set[str]:
    return {name_at(datetime(d.year, d.month, d.day, 2, 0, tzinfo=UTC)) for d in dates}


def daily_archives(count: int) -> list[str]:
    """One archive a day at 02:00 UTC, the last one on NOW's day."""
    return [name_at(datetime(2026, 11, 25, 2, 0, tzinfo=UTC) - timedelta(days=back)) for back in range(count)]


def test_400_daily_archives_keep_7_days_4_weeks_and_12_months():
    kept = archives_to_keep(daily_archives(400), Keep(7, 4, 12), now=NOW)
    last_seven_days = [date(2026, 11, day) for day in range(19, 26)]
    weeks = [date(2026, 11, 22), date(2026, 11, 15), date(2026, 11, 8)]  # Sundays; this week is the 25th
    months = [
        date(2026, 10, 31),
        date(2026, 9, 30),
        date(2026, 8, 31),
        date(2026, 7, 31),
        date(2026, 6, 30),
        date(2026, 5, 31),
        date(2026, 4, 30),
        date(2026, 3, 31),
        date(2026, 2, 28),
        date(2026, 1, 31),
        date(2025, 12, 31),  # November 2026 is the first of the 12 months
    ]
    assert kept == days(*last_seven_days, *weeks, *months)
    assert len(kept) == 20


def test_days_keep_the_newest_archive_of_each_day():
    morning, evening = datetime(2026, 11, 24, 2, 0, tzinfo=UTC), datetime(2026, 11, 24, 20, 0, tzinfo=UTC)
    names = [
        name_at(morning),
        name_at(evening),
        name_at(evening, "000000"),
        name_at(NOW - timedelta(minutes=5)),
    ]
    kept = archives_to_keep(names, Keep(2, 0, 0), now=NOW)
    assert kept == {name_at(evening), name_at(NOW - timedelta(minutes=5))}


def test_weeks_run_from_monday_to_sunday():
    sunday, monday = datetime(2026, 11, 22, 23, 0, tzinfo=UTC), datetime(2026, 11, 23, 1, 0, tzinfo=UTC)
    newest = name_at(NOW)
    kept = archives_to_keep([name_at(sunday), name_at(monday), newest], Keep(0, 2, 0), now=NOW)
    assert kept == {name_at(sunday), newest}  # Monday 23 shares this week with the newest


def test_a_gap_in_backups_is_not_filled_from_older_periods():
    # Calendar windows: "7 days" never reaches back past 7 days to make up for days without a backup.
    names = [name_at(NOW - timedelta(days=back)) for back in (0, 10, 11, 12)]
    assert archives_to_keep(names, Keep(7, 0, 0), now=NOW) == {name_at(NOW)}


def test_the_newest_archive_is_kept_however_old():
    old = [name_at(NOW - timedelta(days=1000 + back)) for back in range(3)]
    assert archives_to_keep(old, Keep(7, 4, 12), now=NOW) == {old[0]}


def test_archives_dated_after_now_are_kept():
    future = [name_at(NOW + timedelta(hours=hours)) for hours in (1, 30)]
    kept = archives_to_keep([*future, name_at(NOW - timedelta(days=3))], Keep(0, 0, 0), now=NOW)
    assert kept == set(future)


def test_names_that_are_not_archives_are_never_kept_nor_counted():
    assert archives_to_keep(["notes.txt", "bastion-latest.tar.gpg"], Keep(7, 4, 12), now=NOW) == set()
    assert archives_to_keep([], Keep(7, 4, 12), now=NOW) == set()


# --- properties ---------------------------------------------------------------------------------------

moments = st.datetimes(
    min_value=datetime(2024, 1, 1),  # naive bounds: hypothesis adds the tz
    max_value=datetime(2028, 12, 31),
    timezones=st.just(UTC),
).map(lambda moment: moment.replace(microsecond=0))
archive_names = st.lists(
    st.builds(name_at, moments, st.text("0123456789abcdef", min_size=6, max_size=6)), max_size=60
)
counts = st.integers(min_value=0, max_value=40)
keeps = st.builds(Keep, counts, counts, counts)


@settings(max_examples=200)
@given(names=archive_names, keep=keeps, now=moments)
def test_the_newest_is_always_kept_and_nothing_else_is_invented(names, keep, now):
    kept = archives_to_keep([*names, "notes.txt"], keep, now=now)
    assert kept <= set(names)
    if names:
        assert max(names, key=lambda name: (taken(name), name)) in kept


@settings(max_examples=200)
@given(names=archive_names, keep=keeps, more=st.tuples(counts, counts, counts), now=moments)
def test_keeping_more_never_keeps_fewer(names, keep, more, now):
    bigger = Keep(keep.daily + more[0], keep.weekly + more[1], keep.monthly + more[2])
    assert archives_to_keep(names, keep, now=now) <= archives_to_keep(names, bigger, now=now)


@settings(max_examples=200)
@given(names=archive_names, keep=keeps, now=moments)
def test_no_archive_outlives_the_horizon_except_the_newest(names, keep, now):
    kept = archives_to_keep(names, keep, now=now)
    newest = max(names, key=lambda name: (taken(name), name), default=None)
    for name in kept - {newest}:
        assert now - taken(name) < keep.horizon


@settings(max_examples=200)
@given(names=archive_names, daily=st.integers(min_value=1, max_value=40), now=moments)
def test_each_recent_day_keeps_its_newest_archive(names, daily, now):
    kept = archives_to_keep(names, Keep(daily, 0, 0), now=now)
    for back in range(daily):
        day = (now - timedelta(days=back)).date()
        that_day = [name for name in names if taken(name).date() == day]
        if that_day:
            assert max(that_day, key=lambda name: (taken(name), name)) in kept


# --- prune --------------------------------------------------------------------------------------------


@pytest.fixture
def disk(tmp_path: Path) -> DirectoryDestination:
    path = tmp_path / "disk2"
    path.mkdir()
    return DirectoryDestination(path, keep=Keep(3, 0, 0))


def fill(destination: DirectoryDestination, names: list[str]) -> None:
    for name in names:
        (destination.path / name).write_bytes(b"archive")


def test_prune_deletes_what_retention_does_not_keep_oldest_first(disk):
    names = daily_archives(6)
    fill(disk, [*names, "notes.txt"])
    result = prune(disk, now=NOW)
    assert result.deleted == sorted(names[3:])  # oldest first: names sort by time
    assert result.failed == {}
    assert sorted(os.listdir(disk.path)) == sorted([*names[:3], "notes.txt"])


def test_prune_spares_protected_archives(disk):
    names = daily_archives(6)
    fill(disk, names)
    result = prune(disk, now=NOW, protect={names[5]})
    assert set(result.deleted) == set(names[3:5])
    assert disk.archives() == sorted([names[5], *names[:3]])


def test_one_failing_delete_does_not_stop_the_others(disk):
    names = daily_archives(6)
    fill(disk, names)
    stuck = names[4]

    class StuckDisk(DirectoryDestination):
        def delete(self, name: str) -> None:
            if name == stuck:
                raise DestinationError(f"{name} is locked until next week")
            super().delete(name)

    result = prune(StuckDisk(disk.path, keep=disk.keep), now=NOW)
    assert result == PruneResult(
        deleted=[names[5], names[3]], failed={stuck: f"{stuck} is locked until next week"}
    )
    assert disk.archives() == sorted([stuck, *names[:3]])


def test_prune_on_a_missing_destination_raises_and_deletes_nothing(tmp_path):
    with pytest.raises(DestinationError, match="does not exist"):
        prune(DirectoryDestination(tmp_path / "gone", keep=Keep(1, 0, 0)), now=NOW)


def test_prune_carries_on_past_archives_still_under_object_lock(s3_endpoint, tmp_path):
    bucket = f"bastion-{uuid.uuid4().hex[:12]}"
    make_bucket(s3_endpoint, bucket, object_lock=True)
    archive = tmp_path / "archive"
    archive.write_bytes(os.urandom(1000))
    locking = S3Destination(bucket, endpoint_url=s3_endpoint, keep=Keep(1, 0, 0), lock_days=10)
    plain = S3Destination(bucket, endpoint_url=s3_endpoint, keep=Keep(1, 0, 0))
    names = daily_archives(4)
    locking.store(archive, names[2])
    for name in (names[0], names[1], names[3]):
        plain.store(archive, name)

    result = prune(plain, now=NOW)

    assert result.deleted == [names[3], names[1]]
    assert list(result.failed) == [names[2]]
    assert "pruned once the lock expires" in result.failed[names[2]]
    assert plain.archives() == [names[2], names[0]]
