"""The clocks' background work: warnings, escalation and breaches, and closing reports left waiting.

``check_clocks`` runs every minute. For each running clock it takes at most one step: at 50 % of
the target it warns the assignee; at 90 % it warns them again and escalates to their on-call
backup (before the breach, while there is still time to act); past the due time it records the
breach. Each step is *claimed* by a conditional UPDATE (``... WHERE warned_half_at IS NULL``) in
the same transaction as its audit row, timeline entry and mail tasks: of two workers ticking at
once, one claims and the other updates nothing, so nothing is sent twice, and a crash before
commit leaves the step to the next tick.

``close_silent_reports`` warns the reporter of a report left in needs_more_info, then closes it.

Staff mails name the tracking ID, the clock, the due time in the recipient's own time zone and the
report page's address, never report content. They go one task per recipient, with ids only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from bastion.accounts.models import Role, User
from bastion.audit.events import Event
from bastion.audit.services import Actor, record
from bastion.lib.emails import render_email
from bastion.lib.when import as_read_in
from bastion.reports.access import granted_staff, is_embargoed, may_see
from bastion.reports.clocks import HALF, LATE, elapsed_fraction, note_breach, program_for
from bastion.reports.errors import StaleEdit, TransitionRefused
from bastion.reports.links import portal_url
from bastion.reports.mail import message_id, reporter_mail
from bastion.reports.models import (
    AuthorKind,
    Clock,
    ClockKind,
    Message,
    Program,
    Report,
    TimelineEntry,
    TimelineKind,
)
from bastion.reports.sealing import open_field
from bastion.reports.workflow import Status
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

# The steps of a clock, as the mail task's argument and the template's switch.
WARNING, LATE_WARNING, ESCALATION, BREACH = "warning", "late", "escalation", "breach"

# What the reporter reads when a report waiting on them is closed (posted as a public reply).
CLOSED_FOR_SILENCE = (
    "We are closing this report because we did not hear back from you after asking for more "
    "information. If you can still answer, reply to this report and we will reopen it and "
    "look at it again."
)
# Posted to the conversation (so the portal shows it, mail or not) when the wait is warned.
STILL_WAITING = (
    "We are still waiting for the information we asked you for. If we do not hear from you, this "
    "report will be closed on {closes}. Reply here (or to our email) to keep it open."
)
# The timeline entry that put a report into needs_more_info carries this key once the reporter
# was warned (see ``_claim_warning``).
WARNED_KEY = "reporter_warned_at"


# --- Response clocks -----------------------------------------------------------------------------


@periodic(every=timedelta(seconds=60))
@task()
def check_clocks() -> int:
    """Warn, escalate and record breaches for every running clock that has reached a step; how many.

    Clocks whose every step is done (breached) are not even loaded; the rest are few (one per
    open report and kind), and each is judged in working time, as its program counts.
    """
    now = timezone.now()
    pending = (
        Clock.objects.running()
        .filter(breached_at__isnull=True, due_at__isnull=False)
        .filter(Q(warned_half_at__isnull=True) | Q(warned_late_at__isnull=True) | Q(due_at__lte=now))
        .select_related(
            "report__assignee__backup",
            "report__asset__program",
        )
    )
    default = Program.objects.default()
    # Read whole before writing: each step writes, and SQLite gives a cursor still being read no
    # isolation from writes on the same connection.
    return sum(_advance(clock, program_for(clock.report, default=default), now) for clock in list(pending))


def _advance(clock: Clock, program: Program, now: datetime) -> int:
    """Take the one step ``clock`` has reached at ``now``, if another worker has not; 1 if taken."""
    assert clock.due_at is not None
    if clock.due_at <= now:
        return _breach(clock, now)
    fraction = elapsed_fraction(clock, program, now)
    if fraction >= LATE and clock.warned_late_at is None:
        return _escalate(clock, now)
    if fraction >= HALF and clock.warned_half_at is None:
        return _warn(clock, now)
    return 0


def _claim(clock: Clock, field: str, now: datetime, **also: object) -> bool:
    """Set ``field`` (and ``also``) on ``clock`` if it is unset and the clock is as we judged it.

    The row must still be running with the same due time: a reply that met it, or a pause or
    severity change that moved it, since we read it means the step no longer applies.
    """
    rows = Clock.objects.running().filter(pk=clock.pk, due_at=clock.due_at, **{f"{field}__isnull": True})
    return bool(rows.update(**{field: now}, **also))


def _warn(clock: Clock, now: datetime) -> int:
    with transaction.atomic():
        if not _claim(clock, "warned_half_at", now):
            return 0
        _mail(clock, WARNING, _assignee(clock.report) or escalation_recipients(clock.report))
    return 1


def _escalate(clock: Clock, now: datetime) -> int:
    report = clock.report
    with transaction.atomic():
        # A clock that went from under half to 90 % between two ticks gets the later warning only.
        skipped_half = Coalesce("warned_half_at", Value(now))
        if not _claim(clock, "warned_late_at", now, escalated_at=now, warned_half_at=skipped_half):
            return 0
        backups = escalation_recipients(report)
        _mail(clock, LATE_WARNING, _assignee(report))
        _mail(clock, ESCALATION, backups)
        data = {"clock": clock.kind, "clock_id": clock.pk, "to": [user.pk for user in backups]}
        record(event=Event.CLOCK_ESCALATED, actor=None, target=report, data=data)
    return 1


def _breach(clock: Clock, now: datetime) -> int:
    report = clock.report
    with transaction.atomic():
        if not _claim(clock, "breached_at", now):
            return 0
        note_breach(report, clock, now)
        _mail(clock, BREACH, _unique([*_assignee(report), *escalation_recipients(report)]))
    return 1


def _assignee(report: Report) -> list[User]:
    """The assignee, if there is one who can still act. A report nobody has is warned about to
    whoever it would be escalated to: the on-duty triagers should hear of it before it is late.
    """
    assignee = report.assignee
    return [assignee] if assignee is not None and assignee.is_active else []


def escalation_recipients(report: Report) -> list[User]:
    """Who takes over when a target is about to be missed: the assignee's on-call backup; with no
    assignee or no (active) backup, the triagers on duty; with none on duty, every active admin.
    """
    assignee = report.assignee
    backup = assignee.backup if assignee is not None else None
    if backup is not None and backup.is_triager and backup != assignee:
        return [backup]
    staff = User.objects.assignable()
    if assignee is not None:
        staff = staff.exclude(pk=assignee.pk)
    return list(staff.filter(on_duty=True)) or list(staff.filter(role=Role.ADMIN))


def _unique(users: list[User]) -> list[User]:
    return list({user.pk: user for user in users}.values())


def _mail(clock: Clock, step: str, users: list[User]) -> None:
    """Queue the alert for each of ``users`` who may see the report.

    An embargoed report is named only to the staff granted on it: the on-duty triagers or admins it
    would otherwise escalate to may not even know it exists, so its granted staff hear instead.
    """
    report = clock.report
    allowed = [user for user in users if may_see(user, report)]
    if not allowed and is_embargoed(report):
        allowed = granted_staff(report)
    for user in allowed:
        enqueue_on_commit(email_clock_alert, clock.pk, step, user.pk)


def _local(instant: datetime | None, zone_name: str) -> str:
    """``instant`` as the recipient reads it (see ``lib.when``); "not set" for a paused clock."""
    return "not set" if instant is None else as_read_in(instant, zone_name)


@retryable(max_attempts=5)
def email_clock_alert(clock_id: int, step: str, user_id: int) -> None:
    """Mail ``user`` about ``step`` of a clock: tracking ID, clock, due time in their zone, link.

    A warning for a clock that has since been met or paused is not sent (it no longer applies);
    a breach is, because it happened. A retry after a send may mail twice, which is harmless.
    """
    clock = Clock.objects.select_related("report__assignee").filter(pk=clock_id).first()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if clock is None or user is None:
        return
    if step != BREACH and not Clock.objects.running().filter(pk=clock.pk).exists():
        return
    report = clock.report
    assignee = report.assignee
    context = {
        "step": step,
        "tracking_id": report.tracking_id,
        "clock": ClockKind(clock.kind).label,
        "due": _local(clock.due_at, user.time_zone),
        "percent": 90 if step in (LATE_WARNING, ESCALATION) else 50,
        "assignee": assignee.get_full_name() if assignee is not None else "",
        "report_url": settings.BASE_URL + reverse("triage:report", args=[report.tracking_id]),
    }
    template = {ESCALATION: "clock_escalation", BREACH: "clock_breached"}.get(step, "clock_warning")
    render_email(template, context, to=[user.email]).send()


# --- needs_more_info: warn, then close ----------------------------------------------------------


@periodic(every=timedelta(minutes=15))
@task()
def close_silent_reports() -> int:
    """Warn the reporter of a report waiting on them, then close it as informative; how many closed.

    The wait starts when the report last went into needs_more_info (its STATUS_CHANGED timeline
    entry). A report whose reporter wrote since is waiting on staff, not on them: it is left alone.
    """
    now = timezone.now()
    entered = TimelineEntry.objects.filter(
        report=OuterRef("pk"), kind=TimelineKind.STATUS_CHANGED, data__to=Status.NEEDS_MORE_INFO.value
    ).order_by("-created_at", "-id")
    answered = Message.objects.filter(
        report=OuterRef("pk"), author_kind=AuthorKind.REPORTER, created_at__gt=OuterRef("waiting_since")
    )
    waiting = (
        Report.objects.filter(status=Status.NEEDS_MORE_INFO)
        .annotate(
            waiting_since=Subquery(entered.values("created_at")[:1]),
            entry_id=Subquery(entered.values("pk")[:1]),
        )
        .filter(waiting_since__isnull=False)
        .exclude(Exists(answered))
        .select_related("reporter", "data_key", "asset__program")
    )
    default = Program.objects.default()
    closed = 0
    for report in list(waiting):  # read whole before writing (see check_clocks)
        entry = TimelineEntry.objects.get(pk=report.entry_id)  # type: ignore[attr-defined]  # annotated by the query above
        closed += _follow_up(report, entry, program_for(report, default=default), now)
    return closed


def close_at(entry: TimelineEntry, program: Program) -> datetime:
    """When a report that went into needs_more_info with ``entry`` is closed if nobody answers.

    Never sooner after the warning than the program's notice period (close minus warn hours): a
    worker that was down past both times still warns first and gives the reporter their time.
    """
    close = entry.created_at + timedelta(hours=program.needs_info_close_hours)
    warned = entry.data.get(WARNED_KEY)
    if warned is None:
        return close
    notice = timedelta(hours=max(0, program.needs_info_close_hours - program.needs_info_warn_hours))
    return max(close, datetime.fromisoformat(warned) + notice)


def _follow_up(report: Report, entry: TimelineEntry, program: Program, now: datetime) -> int:
    warn_due = entry.created_at + timedelta(hours=program.needs_info_warn_hours)
    # Everyone is warned, mail or not: a reporter who follows the report in the portal sees it there.
    must_warn = program.needs_info_warn_hours < program.needs_info_close_hours
    if must_warn and WARNED_KEY not in entry.data:
        if now >= warn_due:
            _claim_warning(report, entry, program, now)
        return 0
    if now < close_at(entry, program):
        return 0
    return _close(report, now)


def _claim_warning(report: Report, entry: TimelineEntry, program: Program, now: datetime) -> None:
    """Mark the wait as warned, post the warning to the conversation and mail it, once.

    The marker is a key on the very timeline entry that started the wait, rather than a new row
    or column: it survives restarts, belongs to this wait only (going back into needs_more_info
    later makes a new entry, which earns its own warning), and adds no schema. The conditional
    UPDATE is the claim: of two workers, one sets it and the other matches no row.
    """
    marked = {**entry.data, WARNED_KEY: now.isoformat()}
    with transaction.atomic():
        unmarked = TimelineEntry.objects.filter(pk=entry.pk).exclude(data__has_key=WARNED_KEY)
        claimed = unmarked.update(data=marked)
        if not claimed or report.data_key.is_destroyed:
            return
        entry.data = marked
        closes = _local(close_at(entry, program), report.reporter.time_zone)
        # Imported here for the same reason as in _close: the services import this module.
        from bastion.reports.services.conversation import post_message

        post_message(report=report, body=STILL_WAITING.format(closes=closes), visibility="public", actor=None)
        if report.reporter.has_email:
            enqueue_on_commit(email_needs_info_warning, report.pk, entry.pk)


def _close(report: Report, now: datetime) -> int:
    # Imported here: the services import reports.tasks, which imports this module.
    from bastion.reports.services.lifecycle import change_status

    try:
        with transaction.atomic():
            # expected_version: had staff touched the report since it was read, they decide, not us.
            change_status(
                report=report,
                to=Status.INFORMATIVE,
                actor=Actor.system(),
                reporter_message=CLOSED_FOR_SILENCE,
                expected_version=report.version,
            )
            if report.reporter.has_email:
                enqueue_on_commit(email_needs_info_closed, report.pk)
    except (StaleEdit, TransitionRefused):
        return 0
    return 1


def _reporter_mail(report: Report, name: str, context: Mapping[str, object], kind: str) -> None:
    key = report.data_key_plain()
    reporter_mail(
        name,
        {"tracking_id": report.tracking_id, "portal_url": portal_url(report), **context},
        to=[open_field(report.reporter, "email", key=key) or ""],
        public_key=open_field(report.reporter, "public_key", key=key),
        headers={
            "Message-ID": message_id(kind, report.uid),
            "In-Reply-To": message_id("report", report.uid),
            "References": message_id("report", report.uid),
        },
    ).send()


@retryable(max_attempts=8)
def email_needs_info_warning(report_id: int, entry_id: int) -> None:
    """Tell the reporter we still wait for their answer, and when the report closes without one.

    Not sent if the report has moved on (they answered and staff acted, or it was closed).
    """
    reports = Report.objects.select_related("reporter", "data_key", "asset__program")
    report = reports.filter(pk=report_id).first()
    entry = TimelineEntry.objects.filter(pk=entry_id, report_id=report_id).first()
    if report is None or entry is None or report.status != Status.NEEDS_MORE_INFO:
        return
    if not report.reporter.has_email or report.data_key.is_destroyed:
        return
    context = {"closes": _local(close_at(entry, program_for(report)), report.reporter.time_zone)}
    _reporter_mail(report, "needs_info_warning", context, f"needs-info-{entry.pk}")


@retryable(max_attempts=8)
def email_needs_info_closed(report_id: int) -> None:
    """Tell the reporter their report was closed for want of an answer, and how to reopen it."""
    report = Report.objects.select_related("reporter", "data_key").filter(pk=report_id).first()
    if report is None or report.status != Status.INFORMATIVE:
        return
    if not report.reporter.has_email or report.data_key.is_destroyed:
        return
    closed = f"closed-{report.closed_at:%Y%m%d%H%M%S}" if report.closed_at else "closed"
    _reporter_mail(report, "needs_info_closed", {}, closed)
