"""Response clocks: the targets a report is measured against, counted as its program counts time.

Every change that matters to a clock comes through here from the reports services, inside their
transaction: a report arrives, staff reply in public, the reporter writes again, the status or the
severity changes. The scheduler task (``reports.clock_tasks.check_clocks``) does the rest: it warns
the assignee at 50 % and 90 % of a target, escalates to their on-call backup before the breach,
and records a breach on the report.

The rules, in one place:

- A report arrives: first response (72 h instead of 24 h in a bounty program) and triage start.
- A reporter-visible staff reply meets first response; an internal note does not. The reporter
  writing again owes them a first response again: a fresh clock (the met one stays as history).
- Waiting on the reporter (needs_more_info) pauses every running clock, keeping the working time
  left; leaving it for an open state resumes them from that moment.
- Triaged meets triage and starts resolution (by severity) and, in a bounty program, the bounty
  decision. Resolved meets resolution. Any close stops what is still open; a reopen starts what
  applies to the state it reopens into.
- After every change ``Report.next_due_at`` is the earliest due time of a running clock (the
  inbox filters and sorts on it).

This module may not import ``reports.services`` (the services import it), so the program lookup
lives here as :func:`program_for`.
"""

from __future__ import annotations

from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Min

from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.reports.models import Bounty, Clock, ClockKind, Program, Report, TimelineEntry, TimelineKind
from bastion.reports.models.casework import ClockQuerySet
from bastion.reports.workflow import Status, is_closed
from bastion.reports.working_time import Terms, due_after, usable_terms, working_seconds_between

# The shares of a target at which the scheduler warns the assignee (and, at the second, escalates).
HALF = 0.5
LATE = 0.9


def program_for(report: Report, *, default: Program | None = None) -> Program:
    """The program whose terms ``report`` is worked under: its asset's, or the default one.

    ``default`` is the default program when the caller has it already (a loop over many reports).
    """
    if report.asset is not None:
        return report.asset.program
    return default or Program.objects.default()


def target_seconds(program: Program, kind: ClockKind | str, report: Report) -> int | None:
    """The working seconds ``program`` allows ``report`` for ``kind``; None when it sets no target."""
    kind = ClockKind(kind)
    name = kind.value
    if kind == ClockKind.FIRST_RESPONSE and program.offers_bounty:
        name = "first_response_bounty"
    hours = program.target_hours(name, report.severity if kind == ClockKind.RESOLUTION else "")
    return None if hours is None else round(hours * 3600)


# --- What the panel and the scheduler read -------------------------------------------------------


def elapsed_fraction(clock: Clock, terms: Terms, now: datetime) -> float:
    """How much of ``clock``'s target is used up at ``now``, 0.0 to 1.0 (1.0: due or past due).

    Measured by the working time left until ``due_at`` (or kept while paused), so time spent
    paused and time outside business hours count for nothing, as the target does.
    """
    if clock.target_seconds <= 0:
        return 1.0
    terms = usable_terms(terms)
    if clock.paused_at is not None or clock.due_at is None:
        remaining = float(clock.remaining_seconds or 0)
    else:
        remaining = working_seconds_between(now, clock.due_at, terms)
    return min(1.0, max(0.0, 1 - remaining / clock.target_seconds))


def clock_state(clock: Clock, now: datetime) -> str:
    """One word for the panel: running, paused, met, met_late, breached or stopped.

    A running clock past its due time reads "breached" even before the scheduler's next tick
    has recorded it: the page must not say "running" about a missed target.
    """
    if clock.met_at is not None:
        late = clock.breached_at is not None or (clock.due_at is not None and clock.met_at > clock.due_at)
        return "met_late" if late else "met"
    if clock.stopped_at is not None:
        return "stopped"
    if clock.breached_at is not None or (clock.due_at is not None and clock.due_at <= now):
        return "breached"
    if clock.paused_at is not None:
        return "paused"
    return "running"


def note_breach(report: Report, clock: Clock, at: datetime) -> None:
    """Record on the report that ``clock`` missed its target; the caller has just claimed the breach.

    The report keeps its first breach (the metrics count reports that missed any target); the
    timeline entry is staff-only, and the audit row names Bastion (actor None) as the one noting it.
    """
    if Report.objects.filter(pk=report.pk, breached_at__isnull=True).update(breached_at=at):
        report.breached_at = at
    data = {"clock": clock.kind, "clock_id": clock.pk}
    TimelineEntry.objects.create(report=report, kind=TimelineKind.CLOCK_BREACHED, public=False, data=data)
    record(event=Event.CLOCK_BREACHED, actor=None, target=report, data=data)


# --- The hooks the services call -----------------------------------------------------------------


def opening_clocks(report: Report, *, at: datetime, program: Program) -> list[Clock]:
    """The clocks a report not stored yet starts with, built but not saved; sets its ``next_due_at``.

    First response and triage, each built as :func:`_start` builds it, for a report whose row does
    not exist yet: no clock of it can be open, so the check and the savepoint of ``_start`` are moot,
    and the rows can be built before the write lock (the submission saves them with one statement
    inside it).
    """
    built = (_new_clock(report, kind, at, program) for kind in (ClockKind.FIRST_RESPONSE, ClockKind.TRIAGE))
    clocks = [clock for clock in built if clock is not None]
    report.next_due_at = min((clock.due_at for clock in clocks if clock.due_at is not None), default=None)
    return clocks


def on_status_change(report: Report, *, previous: Status, current: Status, at: datetime) -> None:
    """Pause, resume, meet or stop clocks as ``report`` moves from ``previous`` to ``current``."""
    program = program_for(report)
    _settle_overdue(report, at)
    if current == Status.NEEDS_MORE_INFO:
        _pause_all(report, at, program)
    elif previous == Status.NEEDS_MORE_INFO and not is_closed(current):
        _resume_all(report, at, program)
    if current == Status.TRIAGED:
        _meet(report, ClockKind.TRIAGE, at)
        _start(report, ClockKind.RESOLUTION, at, program)
        if program.offers_bounty and not _bounty_decided(report):
            _start(report, ClockKind.BOUNTY_DECISION, at, program)
    elif current == Status.RESOLVED:
        _meet(report, ClockKind.RESOLUTION, at)
    if is_closed(current):
        _open(report).update(stopped_at=at)
    elif is_closed(previous):
        # Reopened (into triaged, handled above, or into new or retesting): the work is owed again.
        if current == Status.NEW:
            _start(report, ClockKind.TRIAGE, at, program)
            if report.first_response_at is None:
                _start(report, ClockKind.FIRST_RESPONSE, at, program)
        elif current == Status.RETESTING:
            _start(report, ClockKind.RESOLUTION, at, program)
    _refresh_next_due(report)


def on_staff_reply(report: Report, *, at: datetime) -> None:
    """A reporter-visible staff reply: the first-response clock is met."""
    _settle_overdue(report, at)
    _meet(report, ClockKind.FIRST_RESPONSE, at)
    _refresh_next_due(report)


def on_reporter_message(report: Report, *, at: datetime) -> None:
    """The reporter wrote again: first response is owed again (a fresh clock).

    An open first-response clock simply goes on; if it was paused because the report waits on
    the reporter, their answer ends that wait as far as the reply they are owed goes, so it
    resumes (the other clocks stay paused until staff move the report on). Nothing starts on a
    closed report: a spammer's replies must not page the on-call backup; staff who reopen it get
    the clocks of the state they reopen into.
    """
    if is_closed(report.status):
        return
    program = program_for(report)
    open_clock = _open(report).filter(kind=ClockKind.FIRST_RESPONSE).first()
    if open_clock is None:
        _start(report, ClockKind.FIRST_RESPONSE, at, program)
    elif open_clock.paused_at is not None:
        _resume(open_clock, at, program)
    _refresh_next_due(report)


def on_severity_change(report: Report, *, at: datetime) -> None:
    """The severity changed: the resolution target follows it (see :func:`_retarget`)."""
    clock = _open(report).filter(kind=ClockKind.RESOLUTION).first()
    if clock is None:
        return
    _settle_overdue(report, at)
    _retarget(report, clock, program_for(report), at)
    _refresh_next_due(report)


def on_program_change(report: Report, *, at: datetime) -> None:
    """The report moved to an asset of another program: every open clock takes that program's target.

    Time already spent was counted under the old program's hours; only what is left is counted
    under the new one's (a clock is not replayed from its start).
    """
    _settle_overdue(report, at)
    program = program_for(report)
    for clock in list(_open(report)):
        _retarget(report, clock, program, at)
    _refresh_next_due(report)


def _retarget(report: Report, clock: Clock, program: Program, at: datetime) -> None:
    """Give ``clock`` the target ``program`` sets for it now, keeping its start.

    Its due time moves by the difference between the two targets (in working time), so time
    already spent, and time spent paused, count as before. Warnings whose threshold now lies ahead
    again are cleared, so they are sent when it is reached. No target any more: the clock stops.
    """
    seconds = target_seconds(program, clock.kind, report)
    if seconds is None:  # the program sets no target for this clock
        Clock.objects.filter(pk=clock.pk).update(stopped_at=at)
        return
    delta = seconds - clock.target_seconds
    clock.target_seconds = seconds
    if clock.paused_at is not None:
        clock.remaining_seconds = max(0, (clock.remaining_seconds or 0) + delta)
    elif clock.due_at is not None:
        clock.due_at = due_after(clock.due_at, delta, usable_terms(program))
    fraction = elapsed_fraction(clock, program, at)
    if fraction < LATE:
        clock.warned_late_at = clock.escalated_at = None
    if fraction < HALF:
        clock.warned_half_at = None
    clock.save(
        update_fields=[
            "target_seconds",
            "remaining_seconds",
            "due_at",
            "warned_half_at",
            "warned_late_at",
            "escalated_at",
        ]
    )


def on_bounty_decided(report: Report, *, at: datetime) -> None:
    """The bounty was decided (eligible with an award proposed, or not eligible)."""
    _settle_overdue(report, at)
    _meet(report, ClockKind.BOUNTY_DECISION, at)
    _refresh_next_due(report)


# --- Helpers -------------------------------------------------------------------------------------


def _open(report: Report) -> ClockQuerySet:
    return Clock.objects.filter(report=report, met_at__isnull=True, stopped_at__isnull=True)


def _new_clock(report: Report, kind: ClockKind, at: datetime, program: Program) -> Clock | None:
    """The ``kind`` clock ``report`` would start at ``at``, unsaved; None when ``program`` sets no target."""
    seconds = target_seconds(program, kind, report)
    if seconds is None:
        return None
    due_at = due_after(at, seconds, usable_terms(program))
    return Clock(report=report, kind=kind, started_at=at, target_seconds=seconds, due_at=due_at)


def _start(report: Report, kind: ClockKind, at: datetime, program: Program) -> Clock | None:
    """Start a ``kind`` clock unless one is open already or the program sets no target for it."""
    if _open(report).filter(kind=kind).exists():
        return None
    clock = _new_clock(report, kind, at, program)
    if clock is None:
        return None
    try:
        # Race: the reporter's message and a staff action on the same report, in two transactions,
        # can both find no open clock. The partial unique index lets one in; the other's insert
        # fails inside this savepoint, and their own change goes on (the clock they wanted exists).
        with transaction.atomic():
            clock.save(force_insert=True)
    except IntegrityError:
        return None
    return clock


def _settle_overdue(report: Report, at: datetime) -> None:
    """Record the breach of every running clock already past due, before it is met, paused or stopped.

    The scheduler notes breaches once a minute; a clock met (or paused, or stopped) in between
    would otherwise leave the running set unnoted, and count as on time in the metrics.
    """
    overdue = Clock.objects.running().filter(report=report, breached_at__isnull=True, due_at__lte=at)
    for clock in overdue:
        if Clock.objects.filter(pk=clock.pk, breached_at__isnull=True).update(breached_at=at):
            note_breach(report, clock, at)


def _meet(report: Report, kind: ClockKind, at: datetime) -> None:
    _open(report).filter(kind=kind).update(met_at=at)


def _pause_all(report: Report, at: datetime, program: Program) -> None:
    terms = usable_terms(program)
    for clock in Clock.objects.running().filter(report=report):
        left = working_seconds_between(at, clock.due_at, terms) if clock.due_at else 0.0
        clock.paused_at, clock.due_at, clock.remaining_seconds = at, None, round(left)
        clock.save(update_fields=["paused_at", "due_at", "remaining_seconds"])


def _resume_all(report: Report, at: datetime, program: Program) -> None:
    for clock in _open(report).filter(paused_at__isnull=False):
        _resume(clock, at, program)


def _resume(clock: Clock, at: datetime, program: Program) -> None:
    """Count on from ``at`` with the working time that was left when the clock paused."""
    clock.due_at = due_after(at, clock.remaining_seconds or 0, usable_terms(program))
    clock.paused_at = clock.remaining_seconds = None
    clock.save(update_fields=["due_at", "paused_at", "remaining_seconds"])


def _bounty_decided(report: Report) -> bool:
    """Decided already (a reopened report is not owed the decision twice)."""
    met = Clock.objects.filter(report=report, kind=ClockKind.BOUNTY_DECISION, met_at__isnull=False)
    return met.exists() or Bounty.objects.filter(report=report, decided_at__isnull=False).exists()


def _refresh_next_due(report: Report) -> None:
    """Keep ``Report.next_due_at`` the earliest due time of a running clock (NULL when none runs)."""
    earliest = Clock.objects.running().filter(report=report).aggregate(earliest=Min("due_at"))["earliest"]
    Report.objects.filter(pk=report.pk).update(next_due_at=earliest)
    report.next_due_at = earliest
