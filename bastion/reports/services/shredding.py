"""Crypto-shredding reports: destroying a report's data key, and the decisions that lead to it.

A report is shredded on an admin's approval of the reporter's deletion request, by a retention
rule for its closed state, or by an operator (``bastion shred``). Shredding writes the report's
subject to the shred ledger first (see :mod:`bastion.vault.shredding`: a crash errs towards
destroying), then destroys the data key, which makes every sealed value of the report unreadable
at once, then tidies: the sealed files' ciphertext is deleted on commit, keyed digests that could
link the report to a person are cleared, clocks stop, and the reporter's timeline says so. What
remains is clear metadata: a tombstone (tracking ID, dates, status, when and why it was destroyed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.core.exceptions import PermissionDenied
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin
from bastion.audit.events import Event
from bastion.audit.services import Actor, ActorArg, Target, record
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    Attachment,
    Clock,
    ReceivedMail,
    Report,
    Reporter,
    RetentionRule,
    TimelineEntry,
    TimelineKind,
)
from bastion.reports.models.custody import MAX_RETENTION_DAYS
from bastion.reports.sealing import open_field, seal_field
from bastion.reports.services._shared import add_timeline, clean_text, is_system
from bastion.reports.services.casework import bump_version, locked_and_checked
from bastion.reports.services.conversation import OpenedReport
from bastion.reports.workflow import CLOSED, Status
from bastion.vault.errors import KeyDestroyed
from bastion.vault.models import DataKey
from bastion.vault.shredding import shred_ledger
from bastion.vault.storage import BlobStorage, get_blob_storage

MAX_REFUSAL = 5_000
MAX_OPERATOR_NOTE = 200
# Reports shredded per query by the retention sweep; each is still its own transaction.
RETENTION_BATCH = 200


class ShredReason(models.TextChoices):
    """Why a report's content was destroyed (stored in the ledger, the audit row and the timeline)."""

    DELETION_REQUEST = "deletion_request", "at the reporter's request"
    RETENTION = "retention", "under the retention policy"
    OPERATOR = "operator", "by an operator"


@dataclass(frozen=True)
class Tombstone:
    """What is left of a shredded report to show: its clear metadata, and when and why it went."""

    report: Report
    destroyed_at: datetime
    why: ShredReason | None

    @property
    def reason(self) -> str:
        """The reason in words ("at the reporter's request"); "" when it is not known."""
        return str(self.why.label) if self.why is not None else ""


# --- Who may ---------------------------------------------------------------------------------------


def _require_admin(actor: ActorArg) -> User:
    if isinstance(actor, User) and is_admin(actor):
        return actor
    raise PermissionDenied("Only admins may decide deletion requests and retention rules.")


def _require_shredder(actor: ActorArg) -> None:
    # Bastion itself must say so (Actor.system()): a forgotten actor (None) is refused.
    if isinstance(actor, Actor) and is_system(actor):
        return
    _require_admin(actor)


def _reason(value: object) -> ShredReason | None:
    return ShredReason(value) if isinstance(value, str) and value in ShredReason.values else None


# --- Shredding -------------------------------------------------------------------------------------


def shred_report(
    *, report: Report, actor: ActorArg, why: ShredReason | str, note: str = "", ip: str | None = None
) -> Report:
    """Destroy ``report``'s content for good: ledger line, data key, then tidying; the report.

    Admins, or ``Actor.system()`` (retention, ``bastion shred``). Audited as REPORT_SHREDDED with
    the reason code and tracking ID (``note``, an operator's short remark, is kept there too; it
    must not quote the report). Idempotent: on a report already shredded nothing happens, and no
    second audit row is written. The sealed files are deleted after commit (their ciphertext is
    useless now: deleting is tidying, the key is what mattered).
    """
    _require_shredder(actor)
    why = ShredReason(why)
    with transaction.atomic():
        locked = locked_and_checked(report, expected_version=None)
        key = locked.data_key
        if key.is_destroyed:
            report.data_key = key
            return report
        # The ledger first, fsynced, then the database (see bastion.vault.shredding's order rule).
        entry = shred_ledger().append(key.subject, why=why.value)
        at = entry.at or timezone.now()
        DataKey.objects.filter(pk=key.pk, destroyed_at__isnull=True).update(wrapped=b"", destroyed_at=at)
        key.refresh_from_db(fields=["wrapped", "destroyed_at"])
        bump_version(locked, report)
        _tidy(locked, why=why.value, at=at, using="default", storage=get_blob_storage())
        data = {"why": why.value, "tracking_id": locked.tracking_id}
        if note.strip():
            data["note"] = " ".join(note.split())[:MAX_OPERATOR_NOTE]
        record(event=Event.REPORT_SHREDDED, actor=actor, target=locked, data=data, ip=ip)
    report.data_key = key
    for name in ("idempotency_key_digest", "request_digest", "next_due_at"):
        setattr(report, name, getattr(locked, name))
    return report


def _tidy(report: Report, *, why: str, at: datetime, using: str, storage: BlobStorage) -> None:
    """Everything after the key is gone: files, linking digests, clocks, the timeline entry.

    Runs inside the caller's transaction on ``using``; the blobs go only once it commits (a
    rollback must not leave rows pointing at deleted files).
    """
    names = list(Attachment.objects.using(using).filter(report=report).values_list("blob_name", flat=True))
    for name in names:
        transaction.on_commit(partial(storage.delete, name), using=using)
    # A keyed hash of the address finds a person's other reports ("email me my links"), and the
    # request digests match a resent request: both would tie the tombstone to someone.
    Reporter.objects.using(using).filter(pk=report.reporter_id).update(email_digest="")
    Report.objects.using(using).filter(pk=report.pk).update(
        idempotency_key_digest=None, request_digest="", next_due_at=None
    )
    report.idempotency_key_digest, report.request_digest, report.next_due_at = None, "", None
    # A signer's fingerprint in clear names its owner on any keyserver.
    ReceivedMail.objects.using(using).filter(data_key_id=report.data_key_id).update(signer_fingerprint="")
    open_clocks = Clock.objects.using(using).filter(
        report=report, met_at__isnull=True, stopped_at__isnull=True
    )
    open_clocks.update(stopped_at=at)
    TimelineEntry.objects.using(using).create(
        report=report, kind=TimelineKind.SHREDDED, public=True, data={"why": why}
    )


def tidy_shredded(*, using: str = "default", storage: BlobStorage | None = None) -> int:
    """Tidy every report whose key is destroyed but not tidied yet; how many. Idempotent.

    That is a report whose key the ledger destroyed again after a restore, or one destroyed
    behind the services' back. "Tidied" means it has its SHREDDED timeline entry. ``storage`` is
    where its sealed files are deleted from (the configured blob storage by default: pass the
    matching storage when ``using`` is another database).
    """
    storage = storage or get_blob_storage()
    tidied = TimelineEntry.objects.using(using).filter(report=OuterRef("pk"), kind=TimelineKind.SHREDDED)
    untidied = (
        Report.objects.using(using)
        .filter(data_key__destroyed_at__isnull=False)
        .exclude(Exists(tidied))
        .select_related("data_key")
        .order_by("pk")
    )
    reports = list(untidied)
    if not reports:
        return 0
    entries = shred_ledger().entries()
    with transaction.atomic(using=using):
        for report in reports:
            entry = entries.get(report.data_key.subject)
            why = entry.why if entry is not None and entry.why in ShredReason.values else ""
            at = report.data_key.destroyed_at or timezone.now()
            _tidy(report, why=why, at=at, using=using, storage=storage)
    return len(reports)


def enforce_shred_ledger(*, actor: ActorArg) -> int:
    """Re-apply the shred ledger to the live database, and tidy what it destroyed; how many keys.

    Called after every restore, and every 10 minutes by the worker (a restore made by hand with
    ``gpg --decrypt`` gets the ledger too). Nothing to do costs a read of the ledger and a few
    indexed SELECTs, without taking a write lock. Audited (SHRED_LEDGER_APPLIED) only when it
    destroyed something.
    """
    ledger = shred_ledger()
    if not ledger.pending():
        return 0
    with transaction.atomic():
        destroyed = ledger.apply()
        if not destroyed:  # another worker got there first
            return 0
        tidied = tidy_shredded()
        data = {"destroyed": len(destroyed), "tidied": tidied}
        record(
            event=Event.SHRED_LEDGER_APPLIED, actor=actor, target=Target(type="vault.shred_ledger"), data=data
        )
    return len(destroyed)


def tombstone(report: Report) -> Tombstone | None:
    """What a page shows instead of ``report``'s content once it is shredded; None if it is not.

    Nothing is decrypted (there is nothing left to decrypt), so nothing is audited.
    """
    key = report.data_key
    if key.destroyed_at is None:
        return None
    entry = report.timeline.filter(kind=TimelineKind.SHREDDED).order_by("-created_at", "-id").first()
    why = _reason((entry.data or {}).get("why")) if entry is not None else None
    return Tombstone(report=report, destroyed_at=key.destroyed_at, why=why)


# --- Deletion requests -----------------------------------------------------------------------------


def pending_deletions() -> models.QuerySet[Report]:
    """Reports whose deletion the reporter asked for, not yet decided and not already shredded."""
    return (
        Report.objects.filter(
            deletion_requested_at__isnull=False,
            deletion_decided_at__isnull=True,
            data_key__destroyed_at__isnull=True,
        )
        .select_related("data_key")
        .order_by("deletion_requested_at", "pk")
    )


def _locked_pending(report: Report) -> Report:
    """``report``'s row locked, if it has a deletion request awaiting a decision; ReportRejected if not."""
    locked = locked_and_checked(report, expected_version=None)
    if locked.deletion_requested_at is None:
        raise ReportRejected(
            "deletion", f"{locked.tracking_id} has no deletion request: there is nothing to decide."
        )
    if locked.deletion_decided_at is not None:
        raise ReportRejected(
            "deletion",
            f"The deletion request on {locked.tracking_id} was already decided on "
            f"{locked.deletion_decided_at:%Y-%m-%d %H:%M} UTC. Reload the page to see the decision.",
            code="decided",
        )
    return locked


def approve_deletion(*, report: Report, actor: ActorArg, ip: str | None = None) -> Report:
    """An admin grants the reporter's deletion request: the decision is recorded, then the report shredded.

    PermissionDenied for anyone but an admin; ReportRejected (field ``deletion``) when there is no
    request awaiting a decision. Audited as DELETION_APPROVED, then REPORT_SHREDDED.
    """
    admin = _require_admin(actor)
    with transaction.atomic():
        locked = _locked_pending(report)
        now = timezone.now()
        Report.objects.filter(pk=locked.pk).update(
            deletion_decided_at=now, deletion_decided_by=admin, deletion_refusal=None
        )
        locked.deletion_decided_at, locked.deletion_decided_by, locked.deletion_refusal = now, admin, None
        record(event=Event.DELETION_APPROVED, actor=actor, target=locked, ip=ip)
        shred_report(report=locked, actor=actor, why=ShredReason.DELETION_REQUEST, ip=ip)
    report.deletion_decided_at, report.deletion_decided_by, report.deletion_refusal = now, admin, None
    report.data_key = locked.data_key
    report.version = locked.version
    return report


def refuse_deletion(*, report: Report, actor: ActorArg, reason: str, ip: str | None = None) -> Report:
    """An admin refuses the deletion request, with a reason the reporter reads in the portal.

    The reason is sealed under the report's key (``Report.deletion_refusal``) and the refusal goes
    on the reporter's timeline. PermissionDenied for anyone but an admin; ReportRejected naming
    ``reason`` when it is empty or too long, or ``deletion`` when there is nothing to decide.
    """
    admin = _require_admin(actor)
    text = clean_text(reason, field="reason", max_length=MAX_REFUSAL, required=True)
    with transaction.atomic():
        locked = _locked_pending(report)
        try:
            key = locked.data_key_plain()
        except KeyDestroyed:
            raise ReportRejected(
                "deletion", f"The content of {locked.tracking_id} was already destroyed.", code="shredded"
            ) from None
        sealed = seal_field(locked, "deletion_refusal", text, key=key)
        now = timezone.now()
        Report.objects.filter(pk=locked.pk).update(
            deletion_decided_at=now, deletion_decided_by=admin, deletion_refusal=sealed
        )
        add_timeline(locked, TimelineKind.DELETION_REFUSED, public=True)
        record(event=Event.DELETION_REFUSED, actor=actor, target=locked, ip=ip)
    report.deletion_decided_at, report.deletion_decided_by, report.deletion_refusal = now, admin, sealed
    return report


def refusal_reason(opened: OpenedReport) -> str | None:
    """Why the deletion request was refused (opened within ``opened``'s audited read); None if not refused.

    Takes the OpenedReport so it runs inside the read that opened the report: the reason is
    opened with the same key, as part of that read, and records nothing more.
    """
    report = opened.report
    if report.deletion_refusal is None:
        return None
    return open_field(report, "deletion_refusal", key=report.data_key_plain())


# --- Retention -------------------------------------------------------------------------------------


def set_retention_rule(
    *, status: Status | str, after_days: int | None, actor: ActorArg
) -> RetentionRule | None:
    """Shred reports closed as ``status`` ``after_days`` after closing; None removes the rule.

    Admins only. ReportRejected naming ``status`` (not a closed state) or ``after_days`` (out of
    1 to 3650). Audited as RETENTION_RULE_CHANGED with the old and new days, when anything changed.
    The rule returned, or None when there is none now.
    """
    _require_admin(actor)
    if status not in {s.value for s in CLOSED}:
        closed = ", ".join(sorted(s.value for s in CLOSED))
        raise ReportRejected("status", f"Retention applies to closed states only: {closed}.")
    status = Status(status)
    if after_days is not None and not 1 <= after_days <= MAX_RETENTION_DAYS:
        raise ReportRejected(
            "after_days", f"Give a number of days from 1 to {MAX_RETENTION_DAYS}, or none to keep reports."
        )
    with transaction.atomic():
        rule = RetentionRule.objects.select_for_update().filter(status=status).first()
        before = rule.after_days if rule is not None else None
        if before == after_days:
            return rule
        if after_days is None:
            assert rule is not None  # before != after_days, so a rule exists
            rule.delete()
            rule = None
        elif rule is None:
            rule = RetentionRule.objects.create(status=status, after_days=after_days)
        else:
            rule.after_days = after_days
            rule.save(update_fields=["after_days", "updated_at"])
        data = {"status": status.value, "from": before, "to": after_days}
        target = Target(type="reports.retentionrule", id=status.value)
        record(event=Event.RETENTION_RULE_CHANGED, actor=actor, target=target, data=data)
    return rule


def apply_retention(*, now: datetime | None = None) -> int:
    """Shred every report past its state's retention rule (closed at least ``after_days`` ago); how many.

    Bastion acts (``Actor.system()``), reason ``retention``. Each report is its own transaction,
    so a sweep cut short keeps what it did and the next run goes on. Idempotent.
    """
    now = now or timezone.now()
    shredded = 0
    for rule in RetentionRule.objects.all():
        due = Report.objects.filter(
            status=rule.status,
            closed_at__lte=now - timedelta(days=rule.after_days),
            data_key__destroyed_at__isnull=True,
        ).select_related("data_key")
        while batch := list(due.order_by("closed_at", "pk")[:RETENTION_BATCH]):
            for report in batch:
                shred_report(report=report, actor=Actor.system(), why=ShredReason.RETENTION)
                shredded += 1
    return shredded
