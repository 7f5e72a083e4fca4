"""Keyset ("cursor") pagination for the inbox, so a page holds at a million reports.

A page is the next ``size`` rows after a *position* in the list's order, found by a range
condition an index answers directly: ``(received_at, id) < (at, pk)`` newest first, or
``(next_due_at, id) > (at, pk)`` soonest due first. There is no COUNT and no OFFSET, both of which
walk every row before the page. The id breaks ties between reports received in the same instant, so
no report is shown twice or skipped.

Each filter on a column with a ``(column, -received_at)`` index is an index walk in SQLite when it
has one value. With several values (``status=open`` is four) SQLite would gather every match and
sort it, which is fine for a hundred rows and not for half a million; so :func:`page` walks each
value's index separately, ``size + 1`` rows each, and merges (the ``split``). Sorted by due time,
the walk follows the ``next_due_at`` index instead; SQLite, knowing no better without statistics,
would rather take an equality index and sort, so there the column filters are written ``+column``,
SQLite's way of saying "do not use an index for this term" (PostgreSQL plans by statistics and
gets the plain form).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db import connections
from django.db.models import CharField, F, Field, Func, IntegerField, Q
from django.db.models.lookups import Exact, In, IsNull

from bastion.reports.models import Report, ReportQuerySet

PAGE_SIZE = 50
MAX_PAGE = 200
# The order's segments: newest first; or due soonest first, then (for "breached") reports with a
# missed target and no clock running, newest first.
NEWEST, DUE, NOT_RUNNING = "n", "d", "w"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INTEGER_COLUMNS = {"assignee_id", "asset_id"}


@dataclass(frozen=True)
class Position:
    """Where a page starts or ends: the segment, its sort value and the report id.

    Encoded as base64url of ``segment|microseconds since the epoch|id``. It is not a secret: a
    tampered one only moves the page within what the user may see anyway.
    """

    segment: str
    at: datetime
    pk: int

    @property
    def by_due(self) -> bool:
        """Whether this position belongs to the due-time order."""
        return self.segment != NEWEST

    def encode(self) -> str:
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        raw = f"{self.segment}|{micros}|{self.pk}".encode("ascii")
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def decode(cls, value: str) -> Position | None:
        """The position ``value`` encodes; None when it is not one of ours."""
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
            segment, micros, pk = raw.split("|")
            if segment not in (NEWEST, DUE, NOT_RUNNING) or not pk.isdigit():
                return None
            return cls(segment, _EPOCH + timedelta(microseconds=int(micros)), int(pk))
        except (binascii.Error, UnicodeDecodeError, ValueError, OverflowError):
            return None


@dataclass(frozen=True)
class Segment:
    """One stretch of the order: rows matching ``where``, sorted by ``column`` then id."""

    name: str
    column: str
    descending: bool
    where: Q


@dataclass
class Plan:
    """A filtered list, kept in parts: the index-walkable column filters, and everything else.

    ``columns`` maps a column with a ``(column, -received_at)`` index to the values wanted (None
    for NULL); ``filters`` are other conditions; ``ids``, when set, bounds the list to those
    reports (a content search's matches).
    """

    by_due: bool = False
    columns: dict[str, list[Any]] = field(default_factory=dict)
    filters: list[Any] = field(default_factory=list)
    include_not_running: bool = False
    ids: list[int] | None = None
    empty: bool = False

    def column(self, name: str, values: Sequence[Any]) -> None:
        """Keep reports whose ``name`` is any of ``values``."""
        self.columns[name] = list(dict.fromkeys(values))

    def narrow(self, name: str, values: Sequence[Any]) -> None:
        """Like :meth:`column`, intersected with any values already asked for."""
        if name in self.columns:
            kept = [value for value in self.columns[name] if value in set(values)]
            self.empty = self.empty or not kept
            self.columns[name] = kept or self.columns[name]
        else:
            self.column(name, values)

    def where(self, condition: Any) -> None:
        """Keep reports matching ``condition`` (a Q or a boolean expression)."""
        self.filters.append(condition)

    def only(self, ids: Sequence[int]) -> Plan:
        """This plan, bounded to ``ids``."""
        return replace(self, ids=list(ids), columns=dict(self.columns), filters=list(self.filters))

    def segments(self) -> list[Segment]:
        """The order's segments, in display order."""
        if not self.by_due:
            return [Segment(NEWEST, "received_at", True, Q())]
        due = [Segment(DUE, "next_due_at", False, Q(next_due_at__isnull=False))]
        if self.include_not_running:
            due.append(Segment(NOT_RUNNING, "received_at", True, Q(next_due_at__isnull=True)))
        return due

    def rows(self, visible: ReportQuerySet) -> ReportQuerySet:
        """Every matching report as one queryset (for counting, exporting; :func:`page` to list).

        Newest first, or due soonest first with the not-running ones after (by id).
        """
        rows = self._filtered(visible, hint=False, skip=None)
        if self.by_due:
            return rows.order_by(F("next_due_at").asc(nulls_last=True), "id")
        return rows.order_by("-received_at", "-id")

    def split_column(self, segment: str = NEWEST) -> str | None:
        """The column whose values ``segment`` walks one by one, or None when one walk does.

        Never in the due-time segment: that walk follows the ``next_due_at`` index, and the
        column filters only sort out its rows (reports with a clock running are few: open ones).
        """
        if segment == DUE or self.ids is not None:
            return None
        lengths = {name: len(values) for name, values in self.columns.items()}
        if not lengths or min(lengths.values()) <= 1:
            return None
        return min(lengths, key=lambda name: lengths[name])

    def _filtered(self, visible: ReportQuerySet, *, hint: bool, skip: str | None) -> ReportQuerySet:
        rows = visible.none() if self.empty else visible
        for condition in self.filters:
            rows = rows.filter(condition)
        if self.ids is not None:
            rows = rows.filter(pk__in=self.ids)
        for name, values in self.columns.items():
            if name != skip:
                rows = rows.filter(column_is(name, values, hint=hint))
        return rows


def column_is(name: str, values: Sequence[Any], *, hint: bool = False) -> Q:
    """``name`` is one of ``values`` (None: NULL); with ``hint``, written so no index is used for it."""
    if hint:
        output: Field[Any, Any] = IntegerField() if name in _INTEGER_COLUMNS else CharField()
        target: Any = Func(F(name), template="+%(expressions)s", output_field=output)
    else:
        target = F(name)
    present = [value for value in values if value is not None]
    condition = Q()
    if len(present) == 1:
        condition |= Q(Exact(target, present[0]))
    elif present:
        condition |= Q(In(target, present))
    if len(present) < len(values):
        condition |= Q(IsNull(target, True))
    return condition if values else Q(pk__in=[])


def _beyond(column: str, at: datetime, pk: int, *, descending: bool) -> Q:
    # The first conjunct alone is a range the index can seek to; the second only sorts out the
    # rows that share ``at`` (an OR of the two would make SQLite scan from the top).
    if descending:
        return Q(**{f"{column}__lte": at}) & (Q(**{f"{column}__lt": at}) | Q(id__lt=pk))
    return Q(**{f"{column}__gte": at}) & (Q(**{f"{column}__gt": at}) | Q(id__gt=pk))


def _fetch(
    plan: Plan, visible: ReportQuerySet, segment: Segment, start: Position | None, *, forward: bool, n: int
) -> list[Position]:
    """Up to ``n`` positions of ``segment`` after ``start`` (or from its start) in walk direction."""
    descending = segment.descending == forward
    hint = segment.name == DUE and connections[visible.db].vendor == "sqlite"
    split = plan.split_column(segment.name)
    rows = plan._filtered(visible, hint=hint, skip=split).filter(segment.where)
    if start is not None:
        rows = rows.filter(_beyond(segment.column, start.at, start.pk, descending=descending))
    order = [f"-{segment.column}", "-id"] if descending else [segment.column, "id"]
    walks = [rows.filter(column_is(split, [value])) for value in plan.columns[split]] if split else [rows]
    found: list[tuple[datetime, int]] = []
    for walk in walks:
        found += list(walk.order_by(*order).values_list(segment.column, "id")[:n])
    found.sort(reverse=descending)
    return [Position(segment.name, at, pk) for at, pk in found[:n]]


def _walk(
    plan: Plan, visible: ReportQuerySet, start: Position | None, *, forward: bool, n: int
) -> list[Position]:
    """Up to ``n`` positions from ``start`` (exclusive) on, across segments, in walk direction."""
    segments = plan.segments()
    names = [segment.name for segment in segments]
    if start is not None and start.segment in names:
        index = names.index(start.segment)
    else:
        start, index = None, 0 if forward else len(segments) - 1
    found: list[Position] = []
    indices = range(index, len(segments)) if forward else range(index, -1, -1)
    for i in indices:
        found += _fetch(
            plan, visible, segments[i], start if i == index else None, forward=forward, n=n - len(found)
        )
        if len(found) >= n:
            break
    return found


@dataclass
class Page:
    """One page of reports, with the positions of the pages either side (None: there is none)."""

    object_list: list[Report]
    older: str | None
    newer: str | None
    is_first: bool

    def __iter__(self) -> Iterator[Report]:
        return iter(self.object_list)

    def __len__(self) -> int:
        return len(self.object_list)


def page(
    plan: Plan,
    *,
    visible: ReportQuerySet,
    rows: ReportQuerySet,
    after: Position | None,
    before: Position | None,
    size: int = PAGE_SIZE,
) -> Page:
    """The ``size`` reports after ``after``, before ``before``, or from the top; shown as ``rows``.

    ``visible`` is what the user may see (the walk runs on it, selecting ids only); ``rows`` is
    the same set with what a list row shows (joins, counts), loaded for the page's ids alone.
    Going back to fewer than a page's worth of reports lands on the first page.
    """
    positions: list[Position] = []
    has_newer = has_older = False
    if before is not None:
        back = _walk(plan, visible, before, forward=False, n=size + 1)
        if len(back) > size:
            positions, has_newer, has_older = list(reversed(back[:size])), True, True
        else:
            before = None
    if before is None:
        ahead = _walk(plan, visible, after, forward=True, n=size + 1)
        positions, has_older, has_newer = ahead[:size], len(ahead) > size, after is not None
    loaded = rows.in_bulk([position.pk for position in positions])
    reports = [loaded[position.pk] for position in positions if position.pk in loaded]
    older = positions[-1].encode() if has_older and positions else None
    newer = positions[0].encode() if has_newer and positions else None
    return Page(object_list=reports, older=older, newer=newer, is_first=after is None and before is None)
