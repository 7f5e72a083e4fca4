"""What disclosure's advisories write into reports: the reporter's timeline, and the title they start from.

Only the reports app writes report rows (DESIGN.md §3), so the advisory services in ``disclosure``
call these rather than creating timeline entries themselves. Each entry's ``data`` holds the keys
the portal's sentences read (:mod:`bastion.portal.timeline`): identifiers and instants, never text.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.access import visible_reports
from bastion.reports.models import Report, TimelineEntry, TimelineKind
from bastion.reports.sealing import open_field
from bastion.reports.services._shared import add_timeline, require_staff_reader


def note_advisory_planned(*, report: Report, identifier: str, publish_at: datetime) -> TimelineEntry:
    """Tell ``report``'s reporter (public timeline) that ``identifier`` is planned for ``publish_at``.

    Call inside the scheduling service's transaction; the instant is stored in UTC and the portal
    shows it on the reporter's wall clock beside UTC.
    """
    at = publish_at.astimezone(UTC).isoformat()
    return add_timeline(
        report, TimelineKind.ADVISORY_PLANNED, public=True, identifier=identifier, publish_at=at
    )


def note_advisory_published(*, report: Report, identifier: str) -> TimelineEntry:
    """Tell ``report``'s reporter (public timeline) that advisory ``identifier`` was published."""
    return add_timeline(report, TimelineKind.ADVISORY_PUBLISHED, public=True, identifier=identifier)


def open_report_titles(
    *, reports: Iterable[Report], actor: ActorArg, ip: str | None = None
) -> dict[int, str]:
    """The titles of ``reports`` by report id, for a staff member drafting an advisory from them.

    Only the titles are opened, and each opening is a REPORT_VIEWED audit row (scope ``title``)
    written before any plaintext is returned. PermissionDenied unless ``actor`` may see every one
    of them (a running embargo narrows who may).
    """
    user = require_staff_reader(actor)
    rows = list(reports)
    allowed = set(visible_reports(user).filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
    if any(report.pk not in allowed for report in rows):
        raise PermissionDenied("Only staff who may see every one of these reports may open them.")
    titles: dict[int, str] = {}
    with transaction.atomic():
        for report in rows:
            if report.data_key.is_destroyed:
                titles[report.pk] = ""  # shredded: there is no title left to read
                continue
            record(event=Event.REPORT_VIEWED, actor=actor, target=report, data={"scope": "title"}, ip=ip)
            titles[report.pk] = open_field(report, "title", key=report.data_key_plain()) or ""
    return titles
