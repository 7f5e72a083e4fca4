"""The credit ledger: who is thanked for a report, how they chose to appear, and every change since.

Every report has its reporter's credit (made lazily by :func:`ensure_reporter_credit` from what they
gave when submitting). The reporter chooses in the portal how to appear (:func:`choose_credit`) and
confirms the public line they were shown (:func:`confirm_credit`); any later change un-confirms it,
because what they agreed to is no longer what would be published. Staff add the other people an
advisory thanks (:func:`add_credit`: analysts, coordinators, remediation developers…), correct a
disputed credit with a reason (:func:`correct_credit`) and withdraw one (:func:`withdraw_credit`).
Each change is a :class:`~bastion.reports.models.credit.CreditChange` (sealed before, after and
reason) and an audit row in the same transaction; changes to the reporter's own credit are on their
timeline.

Publication (:func:`credits_for_publication`, :func:`mark_credits_published`) is what the advisory
services call. **The anonymity rule**: a credit whose person chose to be anonymous is published as
the name ``"Anonymous"`` with its type and no link; its name and handle never leave the sealed
column. Identical public lines (the same person credited on an original and its duplicate) appear
once. The Hall of Thanks counts anonymous credits and never names them.

Names, handles and links are the reporter's personal data, sealed under the report's data key like
everything else of theirs; only a published credit's public form is copied into clear columns.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.errors import ReportRejected
from bastion.reports.models import CreditPreference, Receipt, Report, Reporter
from bastion.reports.models.credit import Appearance, Credit, CreditType, PublicCredit
from bastion.reports.sealing import open_field, open_json, seal_json
from bastion.reports.services._shared import is_reporter_of
from bastion.reports.services.credit_ledger import (
    ANONYMOUS_NAME,
    CORRECTABLE,
    MAX_HANDLE,
    MAX_LINK,
    MAX_NAME,
    MAX_REASON,
    CreditPerson,
    HistoryEntry,
    OpenedCredit,
    ReporterCredit,
    StaleCredit,
    audit_data,
    clean_person,
    clean_reason,
    clean_type,
    keep_change,
    locked_credit,
    note_on_timeline,
    note_republication,
    open_person,
    public_credit,
    refresh_published,
    require_open,
    require_staff_on,
    save_credit,
    snapshot,
)
from bastion.reports.services.credit_publication import (
    ThanksLine,
    credits_for_publication,
    mark_credits_published,
    published_thanks,
)

__all__ = [
    "ANONYMOUS_NAME",
    "CORRECTABLE",
    "MAX_HANDLE",
    "MAX_LINK",
    "MAX_NAME",
    "MAX_REASON",
    "CreditPerson",
    "HistoryEntry",
    "OpenedCredit",
    "PublicCredit",
    "ReporterCredit",
    "StaleCredit",
    "ThanksLine",
    "add_credit",
    "choose_credit",
    "clean_person",
    "confirm_credit",
    "correct_credit",
    "credit_history",
    "credits_for_publication",
    "ensure_reporter_credit",
    "mark_credits_published",
    "public_credit",
    "published_thanks",
    "report_credits",
    "reporter_credit",
    "withdraw_credit",
]

_PREFERENCE_APPEARANCE = {
    CreditPreference.NAME: Appearance.NAME,
    CreditPreference.HANDLE: Appearance.HANDLE,
    CreditPreference.ANONYMOUS: Appearance.ANONYMOUS,
}


# --- The reporter's credit ----------------------------------------------------------------------


def _reporter_credits(report: Report) -> list[Credit]:
    """Every credit recorded for the reporter of ``report``, the first (their own) first."""
    return list(Credit.objects.filter(report=report, is_reporter=True).order_by("created_at", "id"))


def ensure_reporter_credit(report: Report) -> Credit:
    """The reporter's own credit on ``report``, made now from what they gave if it does not exist yet.

    It starts as a finder credit, appearing as the credit preference they chose when submitting,
    with the name and handle they gave, and unconfirmed: they confirm the public line in the portal.
    A credit staff withdrew is returned as it is (withdrawn), never made again. Made by Bastion
    (audited CREDIT_ADDED with the system as actor); the report row is locked so that two first
    visits at once make one credit.
    """
    existing = Credit.objects.filter(report=report, is_reporter=True).order_by("created_at", "id").first()
    if existing is not None:
        return existing
    require_open(report)
    with transaction.atomic():
        list(Report.objects.select_for_update().filter(pk=report.pk).values_list("pk", flat=True))
        existing = Credit.objects.filter(report=report, is_reporter=True).order_by("created_at", "id").first()
        if existing is not None:
            return existing
        key = report.data_key_plain()
        reporter = report.reporter
        person = CreditPerson(
            name=open_field(reporter, "name", key=key) or "",
            handle=open_field(reporter, "handle", key=key) or "",
        )
        appearance = _PREFERENCE_APPEARANCE.get(
            CreditPreference(reporter.credit_preference), Appearance.ANONYMOUS
        )
        credit = Credit(
            report=report,
            receipt=Receipt.objects.get(report=report),
            credit_type=CreditType.FINDER,
            is_reporter=True,
            appearance=appearance,
        )
        credit.person = seal_json(credit, "person", person.to_json(), key=key)
        credit.save(force_insert=True)
        keep_change(credit, "created", actor=None, key=key, before=None, after=snapshot(credit, person))
        record(event=Event.CREDIT_ADDED, actor=None, target=report, data=audit_data(credit, lazily=True))
    return credit


def reporter_credit(*, report: Report, actor: ActorArg) -> ReporterCredit:
    """The reporter's credit as the portal shows it to them: its public line and the types recorded.

    Only the reporter (``reporter_actor(report)``); their own details are not a staff read, so
    nothing is audited.
    """
    if not is_reporter_of(actor, report):
        raise PermissionDenied("Only the reporter sees their credit here.")
    own = ensure_reporter_credit(report)
    person = open_person(own, report.data_key_plain())
    types = tuple(
        str(CreditType(item.credit_type).label)
        for item in _reporter_credits(report)
        if item.withdrawn_at is None
    )
    return ReporterCredit(
        credit=own, person=person, public=public_credit(own.credit_type, own.appearance, person), types=types
    )


def choose_credit(
    *,
    credit: Credit,
    appearance: str,
    name: str = "",
    handle: str = "",
    link: str = "",
    actor: ActorArg,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Credit:
    """The reporter chooses how to appear on their credit (and every other recorded for them).

    ReportRejected naming the field when the choice lacks what it shows (a name to be credited by
    name) or the link is not an https URL; StaleCredit when staff changed it since it was shown.
    A real change un-confirms it (what they confirmed is no longer what would be published); the
    same choice again changes nothing. Audited CREDIT_CHOSEN; on their timeline.
    """
    if not credit.is_reporter or not is_reporter_of(actor, credit.report):
        raise PermissionDenied("Only the reporter chooses how they are credited.")
    require_open(credit.report)
    if credit.withdrawn_at is not None:
        raise ReportRejected(
            "appearance", "The security team withdrew this credit; reply to them to discuss it."
        )
    chosen, person = clean_person(appearance, name=name, handle=handle, link=link)
    with transaction.atomic():
        locked = locked_credit(credit, seen_version=seen_version)
        key = locked.report.data_key_plain()
        targets = [locked, *_siblings(locked)]
        now = timezone.now()
        changed = 0
        for target in targets:
            before_person = open_person(target, key)
            if target.appearance == chosen and before_person == person:
                continue
            before = snapshot(target, before_person)
            target.appearance = chosen
            target.person = seal_json(target, "person", person.to_json(), key=key)
            target.confirmed_at = None
            save_credit(
                target,
                credit if target.pk == credit.pk else target,
                now,
                "appearance",
                "person",
                "confirmed_at",
            )
            keep_change(target, "chosen", actor=actor, key=key, before=before, after=snapshot(target, person))
            changed += 1
        if changed:
            _follow_preference(locked, chosen, person, now)
            record(
                event=Event.CREDIT_CHOSEN, actor=actor, target=locked.report, data=audit_data(locked), ip=ip
            )
            note_on_timeline(locked, "chosen")
    return credit


def _follow_preference(credit: Credit, chosen: Appearance, person: CreditPerson, now: datetime) -> None:
    """Keep ``Reporter.credit_preference`` (what the staff page and API show) in step with the ledger.

    The preference has no "with a link": a link goes with the name if there is one, else the handle.
    """
    if chosen == Appearance.ANONYMOUS:
        preference = CreditPreference.ANONYMOUS
    elif chosen == Appearance.NAME or (chosen == Appearance.LINK and person.name):
        preference = CreditPreference.NAME
    else:
        preference = CreditPreference.HANDLE
    Reporter.objects.filter(report=credit.report_id).exclude(credit_preference=preference).update(
        credit_preference=preference, updated_at=now
    )


def _siblings(credit: Credit) -> list[Credit]:
    """The reporter's other current credits on the same report (one person: one choice), locked."""
    if not credit.is_reporter:
        return []
    rows = Credit.objects.select_for_update().filter(
        report_id=credit.report_id, is_reporter=True, withdrawn_at__isnull=True
    )
    return list(rows.exclude(pk=credit.pk).order_by("created_at", "id"))


def confirm_credit(
    *, credit: Credit, actor: ActorArg, seen_version: int | None = None, ip: str | None = None
) -> Credit:
    """The reporter confirms the public line they were shown; publication waits for this.

    ``seen_version`` is the version of the line they saw: if staff corrected it since, the
    confirmation is refused (StaleCredit), so nobody confirms a line they never saw. Confirming
    what is already confirmed changes nothing. A credit already published gets its public form
    refreshed at once (the Hall of Thanks shows it; the advisory's exports follow at its next
    update). Audited CREDIT_CONFIRMED; on their timeline.
    """
    if not credit.is_reporter or not is_reporter_of(actor, credit.report):
        raise PermissionDenied("Only the reporter confirms how they are credited.")
    require_open(credit.report)
    if credit.withdrawn_at is not None:
        raise ReportRejected(
            "appearance", "The security team withdrew this credit; reply to them to discuss it."
        )
    with transaction.atomic():
        locked = locked_credit(credit, seen_version=seen_version)
        key = locked.report.data_key_plain()
        now = timezone.now()
        confirmed = 0
        for target in [locked, *_siblings(locked)]:
            if target.confirmed_at is not None:
                continue
            person = open_person(target, key)
            before = snapshot(target, person)
            target.confirmed_at = now
            refreshed = refresh_published(target, person) if target.published_at is not None else []
            save_credit(target, credit if target.pk == credit.pk else target, now, "confirmed_at", *refreshed)
            keep_change(
                target, "confirmed", actor=actor, key=key, before=before, after=snapshot(target, person)
            )
            if refreshed:
                note_republication(target, actor=actor, key=key)
            confirmed += 1
        if confirmed:
            record(
                event=Event.CREDIT_CONFIRMED,
                actor=actor,
                target=locked.report,
                data=audit_data(locked),
                ip=ip,
            )
            note_on_timeline(locked, "confirmed")
    return credit


# --- Staff: add, correct, withdraw, read --------------------------------------------------------


def add_credit(
    *,
    report: Report,
    credit_type: str,
    person: CreditPerson | None,
    appearance: str,
    actor: ActorArg,
    for_reporter: bool = False,
    ip: str | None = None,
) -> Credit:
    """Staff credit someone else on ``report`` (an analyst, a coordinator, a remediation developer…).

    Confirmed by the staff member who adds it: they agreed the line with that person. With
    ``for_reporter`` it records another credit type for the reporter instead (``person`` and
    ``appearance`` are then theirs, copied from their own credit, which keeps following their
    choice, and it is confirmed only if they confirmed). Triagers and admins who may see the report.
    Audited CREDIT_ADDED.
    """
    require_staff_on(actor, report)
    require_open(report)
    kind = clean_type(credit_type)
    if for_reporter:
        own = ensure_reporter_credit(report)
        if own.withdrawn_at is not None:
            raise ReportRejected("credit_type", "The reporter's credit was withdrawn; they are not credited.")
        key = report.data_key_plain()
        chosen, who, confirmed_at = Appearance(own.appearance), open_person(own, key), own.confirmed_at
    else:
        given = person or CreditPerson()
        chosen, who = clean_person(appearance, name=given.name, handle=given.handle, link=given.link)
        confirmed_at = timezone.now()
    with transaction.atomic():
        key = report.data_key_plain()
        credit = Credit(
            report=report,
            receipt=Receipt.objects.get(report=report),
            credit_type=kind,
            is_reporter=for_reporter,
            appearance=chosen,
            confirmed_at=confirmed_at,
        )
        credit.person = seal_json(credit, "person", who.to_json(), key=key)
        credit.save(force_insert=True)
        keep_change(credit, "added", actor=actor, key=key, before=None, after=snapshot(credit, who))
        record(event=Event.CREDIT_ADDED, actor=actor, target=report, data=audit_data(credit), ip=ip)
        note_on_timeline(credit, "added")
    return credit


def correct_credit(
    *,
    credit: Credit,
    changes: Mapping[str, str],
    reason: str,
    actor: ActorArg,
    seen_version: int | None,
    ip: str | None = None,
) -> Credit:
    """Correct a disputed credit: its type, appearance, name, handle or link, with the reason why.

    ``changes`` holds only what changes (keys from :data:`CORRECTABLE`). Refused without a reason,
    with a stale ``seen_version`` (StaleCredit), or when the result breaks the appearance rules.
    The reporter's own credit is un-confirmed by a correction (they confirm the new line in the
    portal); a staff credit stays confirmed by the corrector. A published staff credit's clear
    public form is updated at once (a reporter's when they confirm it, unless it only hides them),
    and its history notes that the advisory must be republished (the advisory services' update flow
    does that). Audited CREDIT_CORRECTED.
    """
    unknown = sorted(set(changes) - set(CORRECTABLE))
    if unknown:
        raise ReportRejected(unknown[0], "Only the type, appearance, name, handle and link can be corrected.")
    require_staff_on(actor, credit.report)
    require_open(credit.report)
    text = clean_reason(reason)
    with transaction.atomic():
        locked = locked_credit(credit, seen_version=seen_version)
        if locked.withdrawn_at is not None:
            raise ReportRejected("credit", "This credit was withdrawn: add a new one instead.")
        key = locked.report.data_key_plain()
        old = open_person(locked, key)
        merged = {**old.to_json(), "appearance": locked.appearance, **changes}
        kind = clean_type(changes.get("credit_type", locked.credit_type))
        chosen, person = clean_person(
            merged["appearance"], name=merged["name"], handle=merged["handle"], link=merged["link"]
        )
        if (kind, chosen, person) == (locked.credit_type, locked.appearance, old):
            raise ReportRejected(
                "credit", "Nothing would change: edit a field, or leave the credit as it is."
            )
        before = snapshot(locked, old)
        locked.credit_type, locked.appearance = kind, chosen
        locked.person = seal_json(locked, "person", person.to_json(), key=key)
        now = timezone.now()
        locked.confirmed_at = None if locked.is_reporter else now
        fields = ["credit_type", "appearance", "person", "confirmed_at"]
        # A reporter's corrected line goes public only once they confirm it (confirm_credit then
        # refreshes it): staff must never publish a name the person did not agree to. Hiding it
        # (anonymous) reveals nothing new, so that applies at once.
        hides = chosen == Appearance.ANONYMOUS
        if locked.published_at is not None and (not locked.is_reporter or hides):
            fields += refresh_published(locked, person)
        save_credit(locked, credit, now, *fields)
        _keep_staff_change(
            locked, "corrected", actor=actor, key=key, before=before, person=person, reason=text
        )
        if locked.is_reporter:
            _follow_preference(locked, chosen, person, now)
        record(
            event=Event.CREDIT_CORRECTED, actor=actor, target=locked.report, data=audit_data(locked), ip=ip
        )
        note_on_timeline(locked, "corrected")
    return credit


def withdraw_credit(
    *, credit: Credit, reason: str, actor: ActorArg, seen_version: int | None = None, ip: str | None = None
) -> Credit:
    """Withdraw a credit (a dispute settled against it, a person who asks not to be credited at all).

    A reason is required and kept. A withdrawn credit is neither published nor thanked, and is
    never made again for the reporter. Withdrawing what is already withdrawn changes nothing.
    Audited CREDIT_WITHDRAWN.
    """
    require_staff_on(actor, credit.report)
    require_open(credit.report)
    text = clean_reason(reason)
    with transaction.atomic():
        locked = locked_credit(credit, seen_version=seen_version)
        if locked.withdrawn_at is not None:
            return credit
        key = locked.report.data_key_plain()
        person = open_person(locked, key)
        before = snapshot(locked, person)
        now = timezone.now()
        locked.withdrawn_at = now
        save_credit(locked, credit, now, "withdrawn_at")
        _keep_staff_change(
            locked, "withdrawn", actor=actor, key=key, before=before, person=person, reason=text
        )
        record(
            event=Event.CREDIT_WITHDRAWN, actor=actor, target=locked.report, data=audit_data(locked), ip=ip
        )
        note_on_timeline(locked, "withdrawn")
    return credit


def _keep_staff_change(
    locked: Credit,
    action: str,
    *,
    actor: ActorArg,
    key: bytes,
    before: dict[str, object],
    person: CreditPerson,
    reason: str,
) -> None:
    """Keep a staff correction or withdrawal in the history; on a published credit, note the advisory lags."""
    keep_change(
        locked, action, actor=actor, key=key, before=before, after=snapshot(locked, person), reason=reason
    )
    if locked.published_at is not None:
        note_republication(locked, actor=actor, key=key)


def report_credits(
    *, report: Report, actor: ActorArg, already_audited: bool = False, ip: str | None = None
) -> list[OpenedCredit]:
    """Every credit on ``report`` (withdrawn ones included, last), opened for a staff reader.

    The reporter's own credit is made first if it does not exist yet. Opening them is a staff read
    of the reporter's details (REPORT_VIEWED, scope "credits"), unless ``already_audited`` says the
    caller shows them on a page whose own read of the report was just recorded (the report page).
    """
    require_staff_on(actor, report)
    if report.data_key.is_destroyed:
        return []
    ensure_reporter_credit(report)
    if not already_audited:
        record(event=Event.REPORT_VIEWED, actor=actor, target=report, data={"scope": "credits"}, ip=ip)
    key = report.data_key_plain()
    rows = sorted(
        report.credits.all(), key=lambda row: (row.withdrawn_at is not None, row.created_at, row.pk)
    )
    opened = []
    for row in rows:
        person = open_person(row, key)
        opened.append(
            OpenedCredit(
                credit=row, person=person, public=public_credit(row.credit_type, row.appearance, person)
            )
        )
    return opened


def credit_history(credit: Credit, actor: ActorArg, *, ip: str | None = None) -> list[HistoryEntry]:
    """Every change to ``credit``, oldest first, opened: for staff who may see the report.

    Opening the history is a staff read (REPORT_VIEWED, scope "credit_history"), recorded before
    anything is decrypted.
    """
    require_staff_on(actor, credit.report)
    if credit.report.data_key.is_destroyed:
        return []
    with transaction.atomic():
        record(
            event=Event.REPORT_VIEWED,
            actor=actor,
            target=credit.report,
            data={"scope": "credit_history", "credit": str(credit.uid)},
            ip=ip,
        )
    key = credit.report.data_key_plain()
    return [
        HistoryEntry(
            action=change.action,
            actor=change.actor,
            at=change.created_at,
            before=open_json(change, "before", key=key),
            after=open_json(change, "after", key=key),
            reason=open_field(change, "reason", key=key) or "",
        )
        for change in credit.changes.all()
    ]
