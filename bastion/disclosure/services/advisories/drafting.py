"""Drafting an advisory: creating it from reports, editing it in revisions, reading it, and diffs.

Every saved state is an :class:`AdvisoryRevision` (sealed), so what changed, when and by whom is
never lost; the diff between two revisions is computed when shown, from the opened contents.
"""

from __future__ import annotations

import difflib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.content import AdvisoryContent
from bastion.disclosure.models import Advisory, AdvisoryRevision, AdvisoryState
from bastion.disclosure.services.advisories._base import (
    AdvisoryRejected,
    latest_revision,
    locked,
    open_content,
    require_reports_visible,
    require_worker,
    save_changed,
    seal_content,
)
from bastion.disclosure.services.advisories.rules import FIELD_LABELS, clean_content, field_texts
from bastion.reports.models import Report
from bastion.reports.services.disclosure_events import open_report_titles
from bastion.vault.services import create_data_key

MAX_REPORTS = 50
# Two staff creating advisories in the same second both read the same highest number; the unique
# identifier makes the second insert fail, and it takes the next number. A handful of retries is
# plenty: each lost race means another advisory really was created in between.
IDENTIFIER_ATTEMPTS = 20


@dataclass(frozen=True)
class FieldDiff:
    """What changed in one field between two revisions, as unified-diff lines."""

    field: str
    label: str
    lines: tuple[str, ...]


def _unique_reports(reports: Sequence[Report]) -> list[Report]:
    rows = list({report.pk: report for report in reports}.values())
    if not rows:
        raise AdvisoryRejected(
            "Choose at least one report for the advisory.", field="reports", code="required"
        )
    if len(rows) > MAX_REPORTS:
        raise AdvisoryRejected(f"An advisory covers at most {MAX_REPORTS} reports.", field="reports")
    return rows


def draft_from_reports(
    reports: Sequence[Report], actor: ActorArg, *, ip: str | None = None
) -> AdvisoryContent:
    """A first draft from ``reports``: the first report's title (opened, audited), and their scores.

    The clear metadata comes along: the CVSS vectors of the highest-scored report and the first
    CWE given. Everything else is for staff to write.
    """
    rows = sorted(_unique_reports(reports), key=lambda r: (r.received_at, r.pk))
    require_reports_visible(actor, rows)
    titles = open_report_titles(reports=rows, actor=actor, ip=ip)
    scored = sorted(
        (r for r in rows if r.cvss_score is not None), key=lambda r: r.cvss_score or 0, reverse=True
    )
    top = scored[0] if scored else rows[0]
    return AdvisoryContent(
        title=titles.get(rows[0].pk, "")[:200],
        cvss_v3=top.cvss_v3,
        cvss_v4=top.cvss_v4,
        cwe_id=next((r.cwe_id for r in rows if r.cwe_id is not None), None),
    )


def _next_identifier(year: int) -> str:
    prefix = f"{settings.ADVISORY_PREFIX}-{year}-"
    taken = Advisory.objects.filter(identifier__startswith=prefix).values_list("identifier", flat=True)
    numbers = [int(tail) for tail in (i[len(prefix) :] for i in taken) if tail.isdigit()]
    return f"{prefix}{max(numbers, default=0) + 1:04d}"


def create_advisory(
    *, reports: Sequence[Report], content: AdvisoryContent, actor: ActorArg, ip: str | None = None
) -> Advisory:
    """Draft an advisory about ``reports``, as revision 1; the new Advisory (state DRAFT).

    ``actor`` must be a triager or admin who may see every report. The content is sealed under
    the advisory's own new data key. Its identifier (``PREFIX-YYYY-NNNN``) is the next free number
    of the year; two created at once never share one (see ``IDENTIFIER_ATTEMPTS``).
    """
    rows = _unique_reports(reports)
    user = require_reports_visible(actor, rows)
    cleaned = clean_content(content)
    now = timezone.now()
    with transaction.atomic():
        uid = uuid.uuid4()
        data_key, key = create_data_key(subject=f"advisory:{uid}")
        advisory = Advisory(uid=uid, data_key=data_key, created_by=user, updated_by=user, created_at=now)
        advisory.updated_at = now
        advisory.content = seal_content(advisory, cleaned, key=key)
        for attempt in range(IDENTIFIER_ATTEMPTS):
            advisory.identifier = _next_identifier(now.year)
            try:
                # A savepoint: on PostgreSQL a failed INSERT would otherwise abort the whole transaction.
                with transaction.atomic():
                    advisory.save(force_insert=True)
                break
            except IntegrityError:
                if attempt == IDENTIFIER_ATTEMPTS - 1:
                    raise
        advisory.reports.set(rows)
        revision = AdvisoryRevision(
            uid=uuid.uuid4(), advisory=advisory, number=1, author=user, created_at=now
        )
        revision.content = seal_content(revision, cleaned, key=key)
        revision.save(force_insert=True)
        data = {"identifier": advisory.identifier, "reports": [r.tracking_id for r in rows], "revision": 1}
        record(event=Event.ADVISORY_CREATED, actor=actor, target=advisory, data=data, ip=ip)
    return advisory


def edit_advisory(
    *,
    advisory: Advisory,
    content: AdvisoryContent,
    actor: ActorArg,
    seen_version: int | None,
    ip: str | None = None,
) -> Advisory:
    """Save ``content`` as the advisory's next revision; ``advisory`` (updated).

    ``seen_version`` is the version the editor loaded: if someone saved since, StaleAdvisoryEdit
    says who and when, and nothing is saved (the form keeps the editor's text). Content equal to
    the latest revision saves nothing. An edit of an approved advisory voids the approval (back to
    DRAFT), and an edit of a published one starts its update, which goes through review again.
    A withdrawn advisory cannot be edited.
    """
    user = require_worker(actor, advisory)
    cleaned = clean_content(content)
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.state == AdvisoryState.WITHDRAWN:
            raise AdvisoryRejected(
                f"{row.identifier} was withdrawn; it cannot be edited. Draft a new advisory instead.",
                code="withdrawn",
            )
        key = row.data_key_plain()
        if open_content(row, key=key) == cleaned:
            return advisory
        number = latest_revision(row).number + 1
        revision = AdvisoryRevision(uid=uuid.uuid4(), advisory=row, number=number, author=user)
        revision.content = seal_content(revision, cleaned, key=key)
        revision.save(force_insert=True)
        row.content = seal_content(row, cleaned, key=key)
        voided = row.state in (AdvisoryState.APPROVED, AdvisoryState.PUBLISHED)
        if voided:
            row.state = AdvisoryState.DRAFT
            row.approved_by, row.approved_at, row.approved_revision = None, None, None
        fields = ["content", "state", "approved_by", "approved_at", "approved_revision"]
        save_changed(row, advisory, by=user, fields=fields)
        data = {"revision": number, "state": row.state, "approval_voided": voided}
        record(event=Event.ADVISORY_EDITED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def open_advisory(*, advisory: Advisory, actor: ActorArg, ip: str | None = None) -> AdvisoryContent:
    """The advisory's current (latest revision's) content, for staff who may see all its reports.

    Audited (ADVISORY_VIEWED) before anything is decrypted: until it is published, an advisory
    is as secret as the reports it is about.
    """
    require_worker(actor, advisory)
    with transaction.atomic():
        number = advisory.revisions.order_by("-number").values_list("number", flat=True).first()
        record(event=Event.ADVISORY_VIEWED, actor=actor, target=advisory, data={"revision": number}, ip=ip)
        return open_content(advisory, key=advisory.data_key_plain())


def open_revision(
    *, advisory: Advisory, number: int, actor: ActorArg, ip: str | None = None
) -> AdvisoryContent:
    """Revision ``number``'s content (audited, like :func:`open_advisory`); AdvisoryRejected if none."""
    require_worker(actor, advisory)
    revision = advisory.revisions.filter(number=number).first()
    if revision is None:
        raise AdvisoryRejected(f"{advisory.identifier} has no revision {number}.", field="revision")
    with transaction.atomic():
        record(event=Event.ADVISORY_VIEWED, actor=actor, target=advisory, data={"revision": number}, ip=ip)
        return open_content(revision, key=advisory.data_key_plain())


def revision_diff(
    advisory: Advisory, a: int, b: int, actor: ActorArg, *, ip: str | None = None
) -> list[FieldDiff]:
    """Per-field unified diffs from revision ``a`` to revision ``b`` (only fields that changed).

    Opening two revisions is one audited read (ADVISORY_VIEWED naming both).
    """
    require_worker(actor, advisory)
    found = {r.number: r for r in advisory.revisions.filter(number__in=[a, b])}
    missing = [n for n in (a, b) if n not in found]
    if missing:
        raise AdvisoryRejected(
            f"{advisory.identifier} has no revision {missing[0]}; choose from the list.", field="revision"
        )
    with transaction.atomic():
        data = {"revisions": [a, b]}
        record(event=Event.ADVISORY_VIEWED, actor=actor, target=advisory, data=data, ip=ip)
        key = advisory.data_key_plain()
        before, after = (
            field_texts(open_content(found[a], key=key)),
            field_texts(open_content(found[b], key=key)),
        )
    diffs = []
    for name, label in FIELD_LABELS.items():
        if before[name] == after[name]:
            continue
        lines = difflib.unified_diff(
            before[name].splitlines(), after[name].splitlines(), f"r{a}", f"r{b}", lineterm="", n=2
        )
        diffs.append(FieldDiff(field=name, label=label, lines=tuple(lines)))
    return diffs


def revisions_of(advisory: Advisory) -> list[AdvisoryRevision]:
    """The advisory's revisions, newest first (numbers, authors, dates: nothing opened)."""
    return list(advisory.revisions.select_related("author").order_by("-number"))
