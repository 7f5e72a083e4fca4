"""Marking a report a duplicate of the one that came first, and telling its reporter so, provably.

The report is linked to its original, closed through the ordinary status change, and its reporter
is told which report came first (by tracking ID) and when, with that report's signed receipt, so
they can check the order themselves with ``gpg --verify``. Links never chain: a duplicate's
original is never itself a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.lib.when import as_read_in
from bastion.reports.access import hidden_report_ids, may_see
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Receipt, Report, ReportQuerySet, TimelineKind
from bastion.reports.services._shared import add_timeline, require_staff_reader
from bastion.reports.services.lifecycle import change_status
from bastion.reports.workflow import Status

DEFAULT_REPORTER_MESSAGE = (
    "Thank you for your report {tracking_id}. The same issue was reported to us before yours; "
    "the earlier report is already being handled."
)
"""Used when the caller gives no message (triage pre-fills its own canned response instead)."""


@dataclass(frozen=True)
class DuplicateMarked:
    """A report marked a duplicate: of which original, and the report staff chose if that differs.

    ``chosen`` is not ``original`` when staff picked a report that is itself a duplicate: the link
    then goes to that report's original, so there is never a chain to follow.
    """

    report: Report
    original: Report
    chosen: Report


def mark_duplicate(
    *,
    report: Report,
    original: Report,
    actor: ActorArg,
    reporter_message: str | None = None,
    share_credit: bool = False,
    expected_version: int | None = None,
    ip: str | None = None,
) -> DuplicateMarked:
    """Close ``report`` as a duplicate of ``original``, and tell its reporter which came first.

    Triagers and admins only. Refused (ReportRejected on ``original``, nothing changed) when
    ``original`` is ``report`` itself, was received after it, or is marked a duplicate of it, and
    when other reports are marked duplicates of ``report`` (a duplicate has no duplicates: reopen
    those first). An ``original`` that is itself a duplicate is followed to its own original, so
    links are never chained; a followed original under embargo that the actor may not see is
    refused too (ReportRejected, code ``hidden``), without naming it, and a ``report`` or
    ``original`` they may not see is PermissionDenied. The status moves through
    :func:`change_status` in the same transaction (TransitionRefused, StaleEdit as there);
    ``expected_version`` is checked there, once, and the version bumped once.

    The reporter gets ``reporter_message`` (staff's edited text) followed by the facts: the
    original's tracking ID, when it was received (in the reporter's time zone), whether credit is
    shared, and the original's signed receipt, which holds only hashes and the time, so they can
    check the order with ``gpg --verify``. The timeline entry is public; the audit row names the
    original.
    """
    user = require_staff_reader(actor)
    with transaction.atomic():
        # Every row involved (this report, the chosen one, and the chosen one's own original) is
        # locked in one statement in id order, so two marks touching the same rows in any order
        # cannot deadlock, and read fresh: whether the original is a duplicate must not change
        # under us. The root is read first without a lock; if it moved meanwhile, we say so.
        ids = {report.pk, original.pk, _root_id(original.pk)}
        rows = Report.objects.select_for_update().filter(pk__in=ids).order_by("pk")
        locked = {row.pk: row for row in rows}
        current, chosen = locked[report.pk], locked[original.pk]
        root = locked.get(_root_id_of(chosen))
        if root is None:
            raise ReportRejected(
                "original",
                f"{chosen.tracking_id} changed while you marked this one; try again.",
                code="moved",
            )
        # Before the order checks, whose refusals name the root: a root under embargo is not the
        # actor's to see, not even by its tracking ID, and linking to it would hand its existence
        # and ID to everyone who can see this report.
        _check_visible(user, current, chosen, root)
        _check_order(current, chosen, root, user)
        text = _reporter_text(current, root, reporter_message, share_credit=share_credit)
        # The link first: change_status refuses a duplicate that names no original.
        Report.objects.filter(pk=report.pk).update(duplicate_of=root, duplicate_credit=share_credit)
        report.duplicate_of, report.duplicate_credit = root, share_credit
        # Locks the row again (a no-op in this transaction), checks the version, bumps it once.
        change_status(
            report=report,
            to=Status.DUPLICATE,
            actor=actor,
            reporter_message=text,
            expected_version=expected_version,
            ip=ip,
        )
        received = root.received_at.isoformat()
        add_timeline(
            report,
            TimelineKind.MARKED_DUPLICATE,
            public=True,
            original=root.tracking_id,
            original_received_at=received,
            credit_shared=share_credit,
        )
        data: dict[str, object] = {"original": root.tracking_id, "credit_shared": share_credit}
        if root.pk != chosen.pk:
            data["chosen"] = chosen.tracking_id
        record(event=Event.REPORT_MARKED_DUPLICATE, actor=actor, target=report, data=data, ip=ip)
    return DuplicateMarked(report=report, original=root, chosen=chosen)


def is_duplicate(report: Report) -> bool:
    """Whether ``report`` is closed as a duplicate of another (a reopened one keeps a stale link)."""
    return report.status == Status.DUPLICATE and report.duplicate_of_id is not None


def duplicates_of(report: Report) -> ReportQuerySet:
    """The reports closed as duplicates of ``report``, oldest first (``duplicate_credit``: shares credit)."""
    # By id, which follows arrival: ordering by received_at made SQLite walk the status index over
    # every duplicate in the table instead of looking this report's up by duplicate_of.
    return Report.objects.filter(duplicate_of=report, status=Status.DUPLICATE).order_by("id")


def _root_id_of(report: Report) -> int:
    """The id of ``report``'s original if it is a duplicate, else its own.

    One step is enough: every link is made here, always to a report that is not a duplicate.
    """
    original_id = report.duplicate_of_id
    if report.status != Status.DUPLICATE or original_id is None:
        return report.pk
    return original_id


def _root_id(report_id: int) -> int:
    return _root_id_of(Report.objects.only("status", "duplicate_of").get(pk=report_id))


def _check_visible(user: User, report: Report, chosen: Report, root: Report) -> None:
    """PermissionDenied or ReportRejected unless ``user`` may see every report the link involves.

    ``report`` and ``chosen`` come from the caller, who loaded them through ``visible_reports``;
    they are checked again because an embargo may have started since. ``root`` is found here by
    following ``chosen``'s link, so the refusal says why without naming it.
    """
    if not (may_see(user, report) and may_see(user, chosen)):
        raise PermissionDenied("This report is under embargo and you are not granted on it.")
    if root.pk != chosen.pk and not may_see(user, root):
        raise ReportRejected(
            "original",
            f"{chosen.tracking_id} is itself a duplicate, of a report under embargo that you are not "
            "granted on, so this report cannot be linked to it through "
            f"{chosen.tracking_id}. Choose another original, or ask someone granted on that report "
            "to mark this one.",
            code="hidden",
        )


def _check_order(report: Report, chosen: Report, root: Report, actor: User) -> None:
    """ReportRejected (on ``original``) unless ``root`` can be ``report``'s original."""
    if chosen.pk == report.pk:
        raise ReportRejected("original", "A report cannot be a duplicate of itself.", code="self")
    if root.pk == report.pk:
        raise ReportRejected(
            "original",
            f"{chosen.tracking_id} is itself marked a duplicate of this report ({report.tracking_id}), "
            f"so {report.tracking_id} is the original. Reopen {chosen.tracking_id} first if that is wrong.",
            code="cycle",
        )
    if (root.received_at, root.pk) > (report.received_at, report.pk):
        via = f" (the original of {chosen.tracking_id})" if root.pk != chosen.pk else ""
        raise ReportRejected(
            "original",
            f"{root.tracking_id}{via} was received at {_staff_time(root.received_at, actor)}, after this "
            f"report ({report.tracking_id}, received at {_staff_time(report.received_at, actor)}). The "
            f"report that came first is the original: mark {root.tracking_id} as a duplicate of "
            f"{report.tracking_id} instead.",
            code="later",
        )
    own = duplicates_of(report)
    if own.exists():
        # Duplicates under embargo that the actor is not granted on are counted, never named.
        unseen = hidden_report_ids(actor)
        named = list(own.exclude(pk__in=unseen).values_list("tracking_id", flat=True)[:5])
        hidden = own.filter(pk__in=unseen).count()
        if hidden:
            reports = "a report" if hidden == 1 else f"{hidden} reports"
            named.append(f"{reports} under embargo that you are not granted on")
        several = len(named) > 1 or hidden > 1
        raise ReportRejected(
            "original",
            f"{', '.join(named)} {'are marked as duplicates' if several else 'is marked as a duplicate'} "
            "of this report, and a "
            "duplicate cannot have duplicates of its own. Reopen them first, mark this report, then mark "
            f"them as duplicates of {root.tracking_id}."
            + (" Only someone granted on a report under embargo can reopen it." if hidden else ""),
            code="has_duplicates",
        )


def _staff_time(moment: datetime, actor: User) -> str:
    return as_read_in(moment, actor.time_zone)


def _reporter_text(report: Report, original: Report, message: str | None, *, share_credit: bool) -> str:
    """Staff's message, then the facts the reporter can check: which report, when, and its receipt."""
    opening = (message or "").strip() or DEFAULT_REPORTER_MESSAGE.format(tracking_id=report.tracking_id)
    zone = report.reporter.time_zone
    facts = [
        f"**{original.tracking_id}**, the report yours duplicates, was received on "
        f"{as_read_in(original.received_at, zone)}. Yours, {report.tracking_id}, was received on "
        f"{as_read_in(report.received_at, zone)}.",
    ]
    if share_credit:
        facts.append("You will share the credit for this finding with the first reporter.")
    receipt = Receipt.objects.filter(report=original).values_list("statement", flat=True).first()
    if receipt:
        key_url = f"{settings.BASE_URL}/.well-known/security-key.asc"
        facts.append(
            f"Our signed receipt for {original.tracking_id} proves when it arrived. It states the time "
            "and SHA-256 hashes only, nothing of that report's content or its reporter. To check it, "
            "save it as `receipt.asc` and run:\n\n"
            f"    curl -sSf {key_url} | gpg --import\n    gpg --verify receipt.asc\n\n"
            f"```\n{receipt.strip()}\n```"
        )
    return "\n\n".join([opening, *facts])
