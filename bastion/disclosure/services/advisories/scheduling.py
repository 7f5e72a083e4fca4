"""Planning when an advisory goes public: at the embargo's end by default, never before it without the lead.

The reporters are told the planned date as a public message on their report (mailed to them,
encrypted when they gave a key, and in the portal either way) and on their timeline. Moving the
date tells them again: a reporter must never learn of a publication from the advisory itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from bastion.accounts.permissions import is_admin
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories._base import (
    AdvisoryRejected,
    locked,
    require_coordinator,
    save_changed,
    seal_text_field,
)
from bastion.lib.when import as_read_in, zone_named
from bastion.reports.models import Embargo, Report, Visibility
from bastion.reports.services import post_message
from bastion.reports.services.disclosure_events import note_advisory_planned

# A date picked in a form a few seconds ago is "now", not the past.
PAST_TOLERANCE = timedelta(minutes=2)
MIN_OVERRIDE_REASON = 10
MAX_OVERRIDE_REASON = 2_000

PLANNED = (
    "We plan to publish a security advisory about this report, {identifier}, on {when}. "
    "Please check in the portal that you are credited as you wish before then."
)
MOVED = (
    "The publication of the security advisory about this report, {identifier}, has moved: it is "
    "now planned for {when}. Please check in the portal that you are credited as you wish before "
    "then."
)


def embargo_end(reports: Iterable[Report], *, now: datetime | None = None) -> datetime | None:
    """The latest end among the running embargoes of ``reports`` (None when none is running)."""
    pks = [report.pk for report in reports]
    running = Embargo.objects.running(now or timezone.now()).filter(report__in=pks)
    return running.aggregate(latest=Max("ends_at"))["latest"]


def default_publish_at(advisory: Advisory, *, now: datetime | None = None) -> datetime:
    """When to publish if staff do not choose: the latest running embargo end, else now."""
    at = now or timezone.now()
    return embargo_end(advisory.reports.all(), now=at) or at


def _utc(moment: datetime) -> str:
    return f"{moment.astimezone(UTC):%d %b %Y, %H:%M} UTC"


def _when(moment: datetime, zone: str) -> str:
    """``moment`` on the reader's wall clock, with UTC beside it unless that is their zone."""
    local = as_read_in(moment, zone)
    return local if zone_named(zone)[1] == "UTC" else f"{local} ({_utc(moment)})"


def schedule_publication(
    *,
    advisory: Advisory,
    actor: ActorArg,
    publish_at: datetime | None = None,
    override_reason: str | None = None,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Advisory:
    """Plan ``advisory``'s publication for ``publish_at`` (default: the embargo's end); tell the reporters.

    An instant before a running embargo's end is refused, unless ``actor`` is an admin (the
    security lead) who gives ``override_reason``: sealed, audited ADVISORY_EMBARGO_OVERRIDDEN.
    Each report's reporter gets a public message with the date (in their zone and UTC) and an
    ADVISORY_PLANNED timeline entry, audited REPORTER_NOTIFIED_OF_DATE. The same date again changes
    nothing; a new date notifies again. The publication itself happens at that instant if the
    pre-publish checklist holds (``publish_tasks``).
    """
    user = require_coordinator(actor, advisory)
    now = timezone.now()
    at = publish_at or default_publish_at(advisory, now=now)
    if timezone.is_naive(at):
        raise AdvisoryRejected("Give the publication time with its time zone.", field="publish_at")
    if at < now - PAST_TOLERANCE:
        raise AdvisoryRejected(
            f"{as_read_in(at, user.time_zone)} has passed; choose a time from now on.", field="publish_at"
        )
    reason = (override_reason or "").replace("\r\n", "\n").strip()
    reports = list(advisory.reports.select_related("reporter", "data_key"))
    ends = embargo_end(reports, now=now)
    overriding = ends is not None and at < ends
    if overriding:
        assert ends is not None
        _check_override(user_is_admin=is_admin(user), reason=reason, ends=ends, zone=user.time_zone)
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.published_at is not None or row.state == AdvisoryState.WITHDRAWN:
            raise AdvisoryRejected(
                f"{row.identifier} is already {row.get_state_display().lower()}; "
                "there is no publication left to plan.",
                code="state",
            )
        moved = row.notified_publish_at is not None and row.notified_publish_at != at
        if row.publish_at == at and row.notified_publish_at == at and not overriding:
            return advisory
        row.publish_at = at
        fields = ["publish_at", "notified_publish_at", "reporter_notified_at", "override_by"]
        if overriding:
            row.override_by, row.override_embargo_ends_at = user, ends
            row.override_reason = seal_text_field(row, "override_reason", reason, key=row.data_key_plain())
            fields += ["override_reason", "override_embargo_ends_at"]
            data = {"publish_at": at.isoformat(), "embargo_ends_at": ends.isoformat() if ends else None}
            record(event=Event.ADVISORY_EMBARGO_OVERRIDDEN, actor=actor, target=row, data=data, ip=ip)
        elif row.override_by_id is not None:
            # A date at or after every embargo needs no override: drop the one that is no longer used.
            row.override_by, row.override_reason, row.override_embargo_ends_at = None, None, None
            fields += ["override_reason", "override_embargo_ends_at"]
        record(
            event=Event.ADVISORY_SCHEDULED,
            actor=actor,
            target=row,
            data={"publish_at": at.isoformat(), "moved": moved, "override": overriding},
            ip=ip,
        )
        for report in reports:
            _tell_reporter(report, identifier=row.identifier, at=at, moved=moved, actor=actor, ip=ip)
            data = {"report": report.tracking_id, "publish_at": at.isoformat()}
            record(event=Event.REPORTER_NOTIFIED_OF_DATE, actor=actor, target=row, data=data, ip=ip)
        row.notified_publish_at, row.reporter_notified_at = at, timezone.now()
        save_changed(row, advisory, by=user, fields=fields)
    return advisory


def _check_override(*, user_is_admin: bool, reason: str, ends: datetime, zone: str) -> None:
    end = f"{as_read_in(ends, zone)} ({_utc(ends)})"
    if not user_is_admin:
        raise AdvisoryRejected(
            f"The embargo runs until {end}; an advisory is never published before it. Choose that time "
            "or later, or ask the security lead (an admin) to override the embargo with a reason.",
            field="publish_at",
            code="embargo",
        )
    if len(reason) < MIN_OVERRIDE_REASON:
        raise AdvisoryRejected(
            f"The embargo runs until {end}. To publish before it, say why (at least "
            f"{MIN_OVERRIDE_REASON} characters): it is kept, encrypted, in the audit of this decision.",
            field="override_reason",
            code="override_reason",
        )
    if len(reason) > MAX_OVERRIDE_REASON:
        raise AdvisoryRejected(
            f"Keep the reason under {MAX_OVERRIDE_REASON:,} characters.", field="override_reason"
        )


def _tell_reporter(
    report: Report, *, identifier: str, at: datetime, moved: bool, actor: ActorArg, ip: str | None
) -> None:
    """The public message (mailed by the reports app, PGP rules included) and the timeline entry."""
    if report.data_key.is_destroyed:
        return  # a shredded report has no conversation to write to, and no reporter left to tell
    when = _when(at, report.reporter.time_zone)
    text = (MOVED if moved else PLANNED).format(identifier=identifier, when=when)
    post_message(report=report, body=text, visibility=Visibility.PUBLIC, actor=actor, ip=ip)
    note_advisory_planned(report=report, identifier=identifier, publish_at=at)
