"""Which archives a destination keeps (grandfather-father-son), and pruning the rest.

A rule "N days" keeps the newest archive of each of the last N calendar days (UTC) that has one,
counted back from now and including today; "N weeks" does the same per ISO week (Monday to Sunday)
and "N months" per calendar month. Windows are calendar windows, not "the last N periods that have
an archive", so no archive outlives :attr:`Keep.horizon` (which the master-key retirement relies
on), with two exceptions that protect data rather than age it out: the newest archive is always
kept, and so is any archive dated in the future (a clock set back must not prune fresh backups).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from bastion.vault.backup.destinations import Destination, DestinationError, Keep, archive_time


def _day(day: date) -> int:
    return day.toordinal()


def _iso_week(day: date) -> int:
    # Ordinal 1 (0001-01-01) is a Monday, so this counts ISO weeks (Monday to Sunday) without gaps.
    return (day.toordinal() - 1) // 7


def _month(day: date) -> int:
    return day.year * 12 + day.month - 1


def _newest_per_period(
    dated: dict[str, datetime], count: int, period: Callable[[date], int], today: date
) -> set[str]:
    """The newest archive of each of the ``count`` periods ending with the one holding ``today``."""
    current = period(today)
    newest: dict[int, tuple[datetime, str]] = {}
    for name, when in dated.items():
        index = period(when.date())
        if current - count < index <= current:
            newest[index] = max(newest.get(index, (when, name)), (when, name))
    return {name for _, name in newest.values()}


def archives_to_keep(names: Iterable[str], keep: Keep, *, now: datetime) -> set[str]:
    """The archives among ``names`` that ``keep`` retains at ``now``; a pure function.

    Names that are not our archive names are never in the result (and :func:`prune` never deletes
    them either: they are not ours).
    """
    dated = {name: when for name in names if (when := archive_time(name)) is not None}
    if not dated:
        return set()
    now = now.astimezone(UTC)
    today = now.date()
    kept = {max(dated, key=lambda name: (dated[name], name))}
    kept |= {name for name, when in dated.items() if when > now}
    for count, period in ((keep.daily, _day), (keep.weekly, _iso_week), (keep.monthly, _month)):
        if count > 0:
            kept |= _newest_per_period(dated, count, period, today)
    return kept


@dataclass
class PruneResult:
    """What one prune did: archives deleted, and archives it could not delete with the reason."""

    deleted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def prune(destination: Destination, *, now: datetime, protect: Collection[str] = ()) -> PruneResult:
    """Delete every archive of ``destination`` that its retention does not keep, oldest first.

    ``protect`` names archives to keep regardless (e.g. one being restored). One failing delete
    (an archive still under Object Lock, say) is recorded and the others still go. Listing the
    destination can raise :class:`DestinationError`: then nothing was deleted.
    """
    names = destination.archives()
    kept = archives_to_keep(names, destination.keep, now=now) | set(protect)
    result = PruneResult()
    for name in names:
        if name in kept or archive_time(name) is None:
            continue
        try:
            destination.delete(name)
        except DestinationError as exc:
            result.failed[name] = str(exc)
        else:
            result.deleted.append(name)
    return result
