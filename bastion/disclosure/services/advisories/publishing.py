"""Publishing an advisory, updating it once published, and withdrawing it: each with its public change log.

Publication is claimed by a conditional UPDATE (``published_at IS NULL`` and still approved at the
revision the checklist judged), inside the transaction that writes everything else: of two
workers (or a worker and a person pressing "publish now") one claims and the other updates
nothing, so an advisory is published once. Anything failing after the claim (an export that does
not validate, a credit un-confirmed a moment ago) rolls the whole publication back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from bastion.accounts.models import User
from bastion.accounts.permissions import is_admin
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.disclosure.content import AdvisoryContent, PublicationMeta, PublicCredit
from bastion.disclosure.exports.publish import ExportInvalid, publish_documents
from bastion.disclosure.models import Advisory, AdvisoryChange, AdvisoryState
from bastion.disclosure.services.advisories._base import (
    AdvisoryRejected,
    latest_revision,
    locked,
    open_content,
    require_coordinator,
    require_worker,
    save_changed,
    seal_text_field,
)
from bastion.disclosure.services.advisories.checklist import (
    CREDITS,
    EXPORTS,
    Checklist,
    ChecklistItem,
    prepublish_checklist,
)
from bastion.disclosure.services.advisories.publication import (
    INITIAL,
    next_meta,
    public_form,
    withdrawal_meta,
    withdrawn_summary,
)
from bastion.disclosure.services.credit_view import credits_for_publication, mark_credits_published
from bastion.reports.models import Report
from bastion.reports.services._shared import is_system
from bastion.reports.services.disclosure_events import note_advisory_published

MIN_SUMMARY = 5
MAX_SUMMARY = 400  # AdvisoryChange.summary holds 500; "Withdrawn: " and the like come on top


class PublicationBlocked(Exception):
    """The checklist did not hold: nothing was published. ``checklist`` says what blocks and what to do."""

    def __init__(self, advisory: Advisory, checklist: Checklist) -> None:
        self.advisory = advisory
        self.checklist = checklist
        super().__init__(f"{advisory.identifier} was not published. {checklist.explain()}")


class _RolledBack(Exception):
    """Raised inside the publication transaction to undo it; carries the item that failed."""

    def __init__(self, item: ChecklistItem) -> None:
        self.item = item
        super().__init__(item.why)


def _publisher(actor: ActorArg, advisory: Advisory) -> User | None:
    """The staff member publishing (who may see every report), or None for Bastion's own task."""
    if is_system(actor):
        return None
    return require_coordinator(actor, advisory)


def _public_summary(summary: str, *, field: str = "summary") -> str:
    text = " ".join((summary or "").split())
    if len(text) < MIN_SUMMARY:
        raise AdvisoryRejected(
            "Write what changed for the public change log (for example: Fixed versions corrected).",
            field=field,
            code="required",
        )
    if len(text) > MAX_SUMMARY:
        raise AdvisoryRejected(
            f"Keep it under {MAX_SUMMARY} characters: it is one line of the change log.", field=field
        )
    return text


def record_blocked(
    advisory: Advisory, checklist: Checklist, *, actor: ActorArg, ip: str | None = None
) -> None:
    """Audit a refused publication (ADVISORY_PUBLISH_BLOCKED): which items failed, never their details."""
    data = {"failing": [item.key for item in checklist.failing], "publish_at": _iso(advisory.publish_at)}
    with transaction.atomic():
        record(event=Event.ADVISORY_PUBLISH_BLOCKED, actor=actor, target=advisory, data=data, ip=ip)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _blocked_by(item: ChecklistItem, checklist: Checklist) -> Checklist:
    """``checklist`` with ``item`` in place of the item of the same key (a late failure)."""
    return Checklist(items=tuple(item if old.key == item.key else old for old in checklist.items))


@contextmanager
def _checklist_holding(
    advisory: Advisory, *, at: datetime, actor: ActorArg, ip: str | None
) -> Iterator[None]:
    """Run the block (a publication) only if the pre-publish checklist holds at ``at``.

    PublicationBlocked, audited, when it does not; likewise when the block fails a check late
    (:class:`_RolledBack`, raised after the claim), with that item in the checklist's place. The
    refusal is recorded outside the block, whose transaction has rolled back by then.
    """
    checklist = prepublish_checklist(advisory, now=at)
    if not checklist.ok:
        record_blocked(advisory, checklist, actor=actor, ip=ip)
        raise PublicationBlocked(advisory, checklist)
    try:
        yield
    except _RolledBack as failed:
        blocked = _blocked_by(failed.item, checklist)
        record_blocked(advisory, blocked, actor=actor, ip=ip)
        raise PublicationBlocked(advisory, blocked) from failed


def _publish_in_public(
    row: Advisory,
    reports: Sequence[Report],
    *,
    content: AdvisoryContent,
    meta: PublicationMeta,
    actor: ActorArg,
    at: datetime,
) -> None:
    """Write the exports and the clear public form, and mark the credits published (inside the claim)."""
    try:
        publish_documents(advisory=row, content=content, meta=meta)
    except ExportInvalid as error:
        item = ChecklistItem(
            EXPORTS,
            False,
            "An export does not validate.",
            "Edit the advisory, then publish again.",
            details=(str(error),),
        )
        raise _RolledBack(item) from error
    row.published = public_form(content, meta)
    mark_credits_published(reports=reports, at=at, actor=actor)


def _credits(reports: Sequence[Report]) -> list[PublicCredit]:
    """The credits to publish, read again inside the claim: a credit un-confirmed since the checklist
    ran undoes the publication rather than publishing a line its person no longer agrees to."""
    credits, problems = credits_for_publication(reports)
    if problems:
        item = ChecklistItem(
            CREDITS, False, "A reporter has not confirmed how to be credited.", details=tuple(problems)
        )
        raise _RolledBack(item)
    return credits


def publish_advisory(
    *, advisory: Advisory, actor: ActorArg, now: datetime | None = None, ip: str | None = None
) -> Advisory:
    """Publish ``advisory`` for the first time, if the pre-publish checklist holds at ``now``.

    Otherwise PublicationBlocked with the failing items (audited ADVISORY_PUBLISH_BLOCKED) and
    nothing changes. Publishing writes the exports (signed), the clear public form, the credits'
    public form, the change log's "Initial publication", an ADVISORY_PUBLISHED entry on each
    report's timeline and the audit row. ``actor`` is a staff member who may see every report, or
    None for the scheduled task. AdvisoryRejected if it is already published (use
    :func:`update_published_advisory`), or if another publication got there first.
    """
    _publisher(actor, advisory)
    at = now or timezone.now()
    if advisory.published_at is not None:
        raise AdvisoryRejected(
            f"{advisory.identifier} is already published: edit it, have it approved, then republish it.",
            code="published",
        )
    with _checklist_holding(advisory, at=at, actor=actor, ip=ip), transaction.atomic():
        revision = latest_revision(advisory).number
        claimed = Advisory.objects.filter(
            pk=advisory.pk,
            published_at__isnull=True,
            state=AdvisoryState.APPROVED,
            approved_revision=revision,
            publish_at=advisory.publish_at,
        ).update(state=AdvisoryState.PUBLISHED, published_at=at)
        if not claimed:
            raise AdvisoryRejected(
                f"{advisory.identifier} changed or was published a moment ago; reload it.", code="claimed"
            )
        row = Advisory.objects.select_related("data_key").get(pk=advisory.pk)
        reports = list(row.reports.select_related("data_key", "reporter"))
        credits = _credits(reports)
        content = open_content(row, key=row.data_key_plain())
        meta = next_meta(row, credits=credits, at=at, summary=INITIAL)
        _publish_in_public(row, reports, content=content, meta=meta, actor=actor, at=at)
        row.published_revision = revision
        save_changed(row, advisory, by=row.updated_by, fields=["published", "published_revision"])
        advisory.state, advisory.published_at = row.state, row.published_at
        AdvisoryChange.objects.create(advisory=row, revision=1, summary=INITIAL, created_at=at)
        for report in reports:
            note_advisory_published(report=report, identifier=row.identifier)
        data = {"revision": 1, "draft_revision": revision, "credits": len(credits)}
        record(event=Event.ADVISORY_PUBLISHED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def update_published_advisory(
    *,
    advisory: Advisory,
    summary: str,
    actor: ActorArg,
    now: datetime | None = None,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Advisory:
    """Republish a published advisory with its approved latest revision and the current credits.

    ``summary`` is the public change-log line its editor writes ("Fixed versions corrected"). An
    edit of a published advisory goes through review like a draft (see ``edit_advisory``); once
    approved, this publishes it: a new AdvisoryChange, the next revision in every export's history
    (CSAF ``revision_history``), the exports rewritten. Republishing with only the credits changed
    (a corrected credit) needs no new approval. Refused when the checklist fails
    (PublicationBlocked, audited) or when nothing changed since the last publication.
    """
    user = require_coordinator(actor, advisory)
    text = _public_summary(summary)
    at = now or timezone.now()
    if advisory.published_at is None or advisory.state == AdvisoryState.WITHDRAWN:
        raise AdvisoryRejected(
            f"{advisory.identifier} is not a published advisory: publish it first.", code="state"
        )
    with _checklist_holding(advisory, at=at, actor=actor, ip=ip), transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        revision = latest_revision(row).number
        if (
            row.state not in (AdvisoryState.APPROVED, AdvisoryState.PUBLISHED)
            or row.approved_revision != revision
        ):
            raise AdvisoryRejected(f"{row.identifier} changed a moment ago; reload it.", code="claimed")
        reports = list(row.reports.select_related("data_key", "reporter"))
        credits = _credits(reports)
        content = open_content(row, key=row.data_key_plain())
        prior = row.publication_meta()
        if prior is not None and content == row.public_content() and tuple(credits) == prior.credits:
            raise AdvisoryRejected(
                f"Nothing changed since {row.identifier} was last published: edit it or correct a "
                "credit first.",
                code="unchanged",
            )
        meta = next_meta(row, credits=credits, at=at, summary=text)
        _publish_in_public(row, reports, content=content, meta=meta, actor=actor, at=at)
        row.state, row.published_revision = AdvisoryState.PUBLISHED, revision
        save_changed(row, advisory, by=user, fields=["state", "published", "published_revision"])
        number = len(meta.revisions)
        AdvisoryChange.objects.create(advisory=row, revision=number, summary=text, created_at=at)
        data = {"revision": number, "draft_revision": revision, "credits": len(credits)}
        record(event=Event.ADVISORY_UPDATED, actor=actor, target=row, data=data, ip=ip)
    return advisory


def withdraw_advisory(
    *,
    advisory: Advisory,
    actor: ActorArg,
    reason: str,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Advisory:
    """Withdraw ``advisory``: the lead (an admin) only, with a public reason.

    A published advisory stays public, marked withdrawn: the change log gets "Withdrawn: <reason>"
    and every export is rewritten as withdrawn (same identifier, one more revision). An advisory
    never published is simply abandoned. Either way it is never published or edited again.
    """
    user = require_worker(actor, advisory)
    if not is_admin(user):
        raise AdvisoryRejected(
            "Only the security lead (an admin) may withdraw an advisory; ask them.", code="not_admin"
        )
    text = _public_summary(reason, field="reason")
    at = timezone.now()
    with transaction.atomic():
        row = locked(advisory, seen_version=seen_version, reader=user)
        if row.state == AdvisoryState.WITHDRAWN:
            raise AdvisoryRejected(f"{row.identifier} is already withdrawn.", code="state")
        row.state, row.withdrawn_at = AdvisoryState.WITHDRAWN, at
        fields = ["state", "withdrawn_at"]
        number = None
        if row.published_at is None:
            # Never public, so neither is the reason: it may say what the draft was about.
            row.abandoned_reason = seal_text_field(row, "abandoned_reason", text, key=row.data_key_plain())
            fields.append("abandoned_reason")
        else:
            row.withdrawn_reason = text
            fields.append("withdrawn_reason")
            content = row.public_content()
            assert content is not None
            meta = withdrawal_meta(row, reason=text, at=at)
            try:
                publish_documents(advisory=row, content=content, meta=meta)
            except ExportInvalid as error:
                # Rolled back whole: the documents served stay the last valid ones, not withdrawn.
                raise AdvisoryRejected(
                    f"The withdrawn exports do not validate ({error}); nothing changed. Tell the "
                    "maintainers.",
                    code="export_invalid",
                ) from error
            row.published = public_form(content, meta)
            fields.append("published")
            number = len(meta.revisions)
            AdvisoryChange.objects.create(
                advisory=row, revision=number, summary=withdrawn_summary(text), created_at=at
            )
        save_changed(row, advisory, by=user, fields=fields)
        data = {"revision": number, "was_published": number is not None}
        record(event=Event.ADVISORY_WITHDRAWN, actor=actor, target=row, data=data, ip=ip)
    return advisory
