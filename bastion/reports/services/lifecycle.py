"""Changing a report's state and its reporter's choices: status, credit, key, time zone, deletion."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports import clocks
from bastion.reports.errors import ReportRejected, TransitionRefused
from bastion.reports.models import Message, Report, Reporter, TimelineKind, Visibility
from bastion.reports.sealing import seal_field
from bastion.reports.services._shared import (
    add_timeline,
    is_system,
    require_reporter_or_staff,
    require_staff_reader,
)
from bastion.reports.services.casework import locked_for_edit
from bastion.reports.services.conversation import post_message
from bastion.reports.services.submission import clean_credit, clean_public_key, clean_time_zone
from bastion.reports.tasks import email_status_change
from bastion.reports.workflow import Status, allowed_next, can_transition, is_closed
from bastion.worker.queue import enqueue_on_commit


@dataclass(frozen=True)
class StatusChange:
    """A status change that happened: from what, to what, and the internal note that came with it."""

    report: Report
    previous: Status
    current: Status
    note: Message | None


def change_status(
    *,
    report: Report,
    to: Status | str,
    actor: ActorArg,
    reporter_message: str | None = None,
    notify_reporter: bool = True,
    note: str | None = None,
    expected_version: int | None = None,
    ip: str | None = None,
) -> StatusChange:
    """Move ``report`` to ``to`` if the workflow allows it from where it is now; TransitionRefused if not.

    Triagers and admins, or ``Actor.system()`` (the scheduler closing a report left waiting). The row
    is locked and its version checked (``StaleEdit`` when ``expected_version`` is not current), so
    two staff changing the status at once cannot both move from the same state.
    ``reporter_message`` is the reporter-facing text that goes with the move (from a canned
    response, edited): it is posted as a public reply, so the reporter reads it in the portal and
    by mail, and the plain "status changed" mail is not sent as well. ``notify_reporter=False``
    sends nothing (the move still shows on the reporter's timeline). ``note`` is kept as an
    internal note. The clocks follow the move (paused while waiting on the reporter, met on triage,
    stopped on close).
    """
    # Bastion itself must say so (Actor.system()): a forgotten actor (None) is refused.
    if actor is None or not is_system(actor):
        require_staff_reader(actor)
    target = Status(to)
    with transaction.atomic():
        locked = locked_for_edit(report, expected_version=expected_version)
        previous = Status(locked.status)
        if not can_transition(previous, target):
            raise TransitionRefused(previous.value, target.value, [s.value for s in allowed_next(previous)])
        if target == Status.DUPLICATE and locked.duplicate_of_id is None:
            # The reporter is owed which report came first and when: only mark_duplicate says so.
            raise ReportRejected(
                "to",
                "A duplicate names the report it duplicates: use “Mark as duplicate of” with the original.",
            )
        now = timezone.now()
        updates = _milestones(locked, previous, target, now)
        Report.objects.filter(pk=locked.pk).update(status=target, **updates)
        for name, value in {"status": target, **updates}.items():
            setattr(locked, name, value)
            setattr(report, name, value)
        change = {"from": previous.value, "to": target.value}
        add_timeline(locked, TimelineKind.STATUS_CHANGED, public=True, **change)
        record(event=Event.REPORT_STATUS_CHANGED, actor=actor, target=locked, data=change, ip=ip)
        clocks.on_status_change(locked, previous=previous, current=target, at=now)
        if notify_reporter and reporter_message and reporter_message.strip():
            post_message(
                report=locked, body=reporter_message, visibility=Visibility.PUBLIC, actor=actor, ip=ip
            )
        elif notify_reporter and locked.reporter.has_email:
            enqueue_on_commit(email_status_change, locked.pk, previous.value, target.value)
        message = None
        if note and note.strip():
            message = post_message(
                report=locked, body=note, visibility=Visibility.INTERNAL, actor=actor, ip=ip
            )
    return StatusChange(report=report, previous=previous, current=target, note=message)


def _milestones(report: Report, previous: Status, target: Status, now: datetime) -> dict[str, object]:
    """The dates a move sets for the metrics: first triage, and closing (cleared again on reopen)."""
    updates: dict[str, object] = {}
    if target == Status.TRIAGED and report.triaged_at is None:
        updates["triaged_at"] = now
    if previous == Status.DUPLICATE:
        # Reopened: it is no longer anyone's duplicate, and no longer shares their credit.
        updates.update(duplicate_of=None, duplicate_credit=False)
    if is_closed(target) and not is_closed(previous):
        updates["closed_at"] = now
    elif is_closed(previous) and not is_closed(target):
        updates["closed_at"] = None
    return updates


def update_reporter(
    *,
    report: Report,
    actor: ActorArg,
    credit_preference: str | None = None,
    public_key: str | None = None,
    time_zone: str | None = None,
    ip: str | None = None,
) -> Reporter:
    """Change what the reporter chose; ``None`` leaves a setting as it is. The updated Reporter.

    ``public_key=""`` removes the key (mail is then no longer encrypted); any other value must be a
    key we can encrypt to (ReportRejected naming ``public_key`` otherwise). The reporter or staff
    may do this. Nothing changes, and nothing is audited, when every value is already in place.
    """
    require_reporter_or_staff(actor, report)
    reporter = report.reporter
    # Everything is validated before anything is changed, so a refusal leaves the row as it was.
    updates: dict[str, object] = {}
    if public_key is not None and (public_key.strip() or reporter.public_key is not None):
        parsed = clean_public_key(public_key)
        armored = parsed.armored_public() if parsed else None
        updates["public_key"] = seal_field(reporter, "public_key", armored, key=report.data_key_plain())
    if credit_preference is not None and credit_preference != reporter.credit_preference:
        has_name, has_handle = reporter.name is not None, reporter.handle is not None
        updates["credit_preference"] = clean_credit(
            credit_preference, has_name=has_name, has_handle=has_handle
        )
    if time_zone is not None and time_zone != reporter.time_zone:
        updates["time_zone"] = clean_time_zone(time_zone)
    changed = sorted(updates)
    for name, value in updates.items():
        setattr(reporter, name, value)
    if not changed:
        return reporter
    with transaction.atomic():
        reporter.updated_at = timezone.now()
        reporter.save(update_fields=[*changed, "updated_at"])
        add_timeline(report, TimelineKind.REPORTER_UPDATED, public=True, fields=changed)
        record(event=Event.REPORTER_UPDATED, actor=actor, target=report, data={"fields": changed}, ip=ip)
    return reporter


def request_deletion(*, report: Report, actor: ActorArg, ip: str | None = None) -> Report:
    """Record that the reporter (or staff, on their behalf) asked for the report to be deleted.

    This records the request and puts it on the timeline; what is kept and for how long (a fix in
    progress, legal holds) is decided by staff, and destroying the content is shredding its data
    key. Idempotent: asking again changes nothing.
    """
    require_reporter_or_staff(actor, report)
    with transaction.atomic():
        now = timezone.now()
        updated = Report.objects.filter(pk=report.pk, deletion_requested_at__isnull=True).update(
            deletion_requested_at=now
        )
        if updated:
            report.deletion_requested_at = now
            add_timeline(report, TimelineKind.DELETION_REQUESTED, public=True)
            record(event=Event.DELETION_REQUESTED, actor=actor, target=report, ip=ip)
        else:
            report.refresh_from_db(fields=["deletion_requested_at"])
    return report
