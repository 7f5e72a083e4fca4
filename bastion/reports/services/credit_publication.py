"""Publishing credits: what an advisory may name, copying the public form into clear, the Hall of Thanks.

See :mod:`.credits` for the anonymity rule. The advisory services call
:func:`credits_for_publication` for their pre-publication checklist and exports, and
:func:`mark_credits_published` as they publish; the Hall of Thanks reads :func:`published_thanks`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction

from bastion.audit.services import ActorArg
from bastion.reports.models import Report
from bastion.reports.models.credit import Appearance, Credit, PublicCredit
from bastion.reports.services.credit_ledger import (
    THANKED_TYPES,
    keep_change,
    open_person,
    public_credit,
    save_credit,
    snapshot,
)


@dataclass(frozen=True)
class ThanksLine:
    """One published credit as the Hall of Thanks lists it; ``name`` is "" for an anonymous one."""

    year: int
    name: str
    link: str


# --- Publication --------------------------------------------------------------------------------


def _credited_reports(reports: Iterable[Report]) -> list[tuple[Report, Report | None]]:
    """``reports`` and their duplicates that share credit, each with the original it shares (or None).

    Duplicates are never chained (a duplicate has no duplicates of its own), so one level is all.
    """
    given = list(dict.fromkeys(reports))
    ids = [report.pk for report in given]
    shared = (
        Report.objects.filter(duplicate_of__in=ids, duplicate_credit=True)
        .exclude(pk__in=ids)
        .select_related("data_key", "duplicate_of")
        .order_by("received_at", "id")
    )
    return [(report, None) for report in given] + [(dup, dup.duplicate_of) for dup in shared]


def _unconfirmed(report: Report, original: Report | None) -> str:
    whose = f"The reporter of {report.tracking_id}"
    if original is not None:
        whose += f" (a duplicate of {original.tracking_id} that shares its credit)"
    return (
        f"{whose} has not confirmed how to be credited: ask them to confirm it in the portal, or "
        "withdraw their credit (with a reason) if they cannot be asked."
    )


def _publishable(reports: Iterable[Report]) -> tuple[list[tuple[Credit, PublicCredit]], list[str]]:
    """The credits publication may name, each with its public form, and what keeps others out.

    A shredded report's credits are skipped without a word: its reporter asked to be forgotten,
    and nothing of theirs can be read any more.
    """
    found: list[tuple[Credit, PublicCredit]] = []
    problems: list[str] = []
    for report, original in _credited_reports(reports):
        if report.data_key.is_destroyed:
            continue
        key = report.data_key_plain()
        rows = list(report.credits.current().order_by("-is_reporter", "created_at", "id"))
        if not any(row.is_reporter for row in rows) and not report.credits.filter(is_reporter=True).exists():
            problems.append(_unconfirmed(report, original))
        unconfirmed_noted = False
        for row in rows:
            if row.confirmed_at is None:
                if row.is_reporter and not unconfirmed_noted:
                    problems.append(_unconfirmed(report, original))
                    unconfirmed_noted = True
                continue
            found.append((row, public_credit(row.credit_type, row.appearance, open_person(row, key))))
    return found, problems


def credits_for_publication(reports: Iterable[Report]) -> tuple[list[PublicCredit], list[str]]:
    """The public credits of ``reports`` and of their duplicates that share credit, and the problems.

    Each credit is reduced to what its person chose; an anonymous one is ``"Anonymous"`` with its
    type and no link, and the same public line twice appears once. Only confirmed, current credits
    are listed. ``problems`` says, in words staff can act on, whose consent is missing (an
    unconfirmed reporter credit, or none made yet): publication must wait until it is empty. The
    problems name tracking IDs only, never a person, so they may go into an audit row.
    """
    found, problems = _publishable(reports)
    return list(dict.fromkeys(line for _, line in found)), problems


def mark_credits_published(*, reports: Iterable[Report], at: datetime, actor: ActorArg) -> int:
    """Copy the public form of the credits :func:`credits_for_publication` lists into clear columns.

    Called by the advisory services as they publish (and republish): ``published_at`` keeps the
    first publication (the Hall of Thanks files a credit under that year), the name and link are
    refreshed. An anonymous credit is published with an empty name, so it is counted, never named.
    Each credit that changed gets a "published" entry in its history. How many changed.
    """
    with transaction.atomic():
        found, _ = _publishable(reports)
        changed = 0
        for credit, line in found:
            locked = Credit.objects.select_for_update().select_related("report__data_key").get(pk=credit.pk)
            name = "" if locked.appearance == Appearance.ANONYMOUS else line.name
            first = locked.published_at or at
            if (locked.published_at, locked.published_name, locked.published_link) == (
                first,
                name,
                line.link,
            ):
                continue
            locked.published_at, locked.published_name, locked.published_link = first, name, line.link
            save_credit(locked, credit, at, "published_at", "published_name", "published_link")
            key = locked.report.data_key_plain()
            person = open_person(locked, key)
            keep_change(
                locked, "published", actor=actor, key=key, before=None, after=snapshot(locked, person)
            )
            changed += 1
    return changed


def published_thanks() -> list[ThanksLine]:
    """Every published, current finder or reporter credit, as the Hall of Thanks lists them."""
    rows = Credit.objects.published().filter(credit_type__in=THANKED_TYPES).order_by("published_at", "id")
    return [
        ThanksLine(year=row.published_at.year, name=row.published_name, link=row.published_link)
        for row in rows
        if row.published_at is not None
    ]
