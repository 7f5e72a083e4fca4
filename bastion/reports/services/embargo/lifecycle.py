"""Setting, moving and lifting an embargo, binding its parties, and their acknowledgements.

A move carries the version the editor saw, so two staff moving one embargo at once do not overwrite
each other (``StaleEmbargo``). The reason of a move or a lift is kept as an internal note on the
report (sealed, like every note), so why an embargo moved stays on record.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.reports.access import may_see
from bastion.reports.embargo_tasks import (
    ADDED,
    LIFTED,
    MOVED,
    SET,
    steps_reached,
    utc_text,
)
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    Embargo,
    EmbargoParty,
    PartyKind,
    Report,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import seal_field
from bastion.reports.services._shared import (
    add_timeline,
    is_reporter_of,
    require_staff_reader,
)
from bastion.reports.services.conversation import post_message
from bastion.reports.services.embargo.rules import (
    REPORTER_LABEL,
    NewParty,
    clean_party,
    clean_reason,
    end_instant,
    locked_embargo,
    notify_parties,
    party_row,
    plain_grant,
    require_coordinator,
    require_running,
    usable_key,
)

# --- Setting, moving, lifting ------------------------------------------------------------------------


def set_embargo(
    *,
    report: Report,
    ends_at: datetime,
    reason: str,
    actor: ActorArg,
    parties: Sequence[NewParty] = (),
    ip: str | None = None,
) -> Embargo:
    """Put ``report`` under embargo until ``ends_at`` (an aware instant, stored in UTC), for ``reason``.

    Triagers and admins who may see the report. One embargo per report: a running one is moved,
    not set again (ReportRejected); an ended or lifted one is armed anew, with every party's
    acknowledgement cleared. The setter is granted at once and the reporter is a party from the
    start; ``parties`` adds upstream projects or internal teams. The reporter sees the end on their
    timeline and, with the other parties, is mailed to acknowledge it.
    """
    user = require_staff_reader(actor)
    if not may_see(user, report):
        raise PermissionDenied("This report is under embargo and you are not granted on it.")
    now = timezone.now()
    when = end_instant(ends_at, now)
    text = clean_reason(reason)
    new_parties = [clean_party(p.kind, p.label, p.email) for p in parties]
    key = usable_key(report)
    with transaction.atomic():
        # The report row is the lock: two staff setting an embargo at once are served in turn, and
        # the second is told the first one's embargo runs.
        Report.objects.select_for_update().filter(pk=report.pk).first()
        embargo = Embargo.objects.filter(report=report).first()
        if embargo is not None and embargo.is_running(now):
            raise ReportRejected(
                "ends_at",
                f"This report is already under embargo until {utc_text(embargo.ends_at)}. Move that "
                "embargo instead of setting another.",
                code="running",
            )
        if embargo is None:
            embargo = Embargo(report=report, created_at=now)
        else:
            embargo.version += 1
            EmbargoParty.objects.filter(embargo=embargo).update(
                acknowledged_at=None, acknowledged_ends_at=None
            )
        embargo.ends_at, embargo.set_by, embargo.updated_at = when, user, now
        embargo.lifted_at, embargo.lifted_by = None, None
        embargo.reminders_sent = steps_reached(when, now)
        embargo.reason = seal_field(embargo, "reason", text, key=key)
        embargo.save()
        if not embargo.parties.filter(kind=PartyKind.REPORTER).exists():
            EmbargoParty.objects.create(embargo=embargo, kind=PartyKind.REPORTER, label=REPORTER_LABEL)
        for kind, label, email in new_parties:
            party_row(embargo, kind, label, email, key=key)
        plain_grant(report, user, user, now)
        add_timeline(report, TimelineKind.EMBARGO_SET, public=True, ends_at=when.isoformat())
        data = {"embargo": str(embargo.uid), "ends_at": when.isoformat(), "version": embargo.version}
        record(event=Event.EMBARGO_SET, actor=actor, target=report, data=data, ip=ip)
        notify_parties(embargo, SET)
    return embargo


def move_embargo(
    *,
    embargo: Embargo,
    ends_at: datetime,
    reason: str,
    actor: ActorArg,
    seen_version: int | None,
    ip: str | None = None,
) -> Embargo:
    """Move a running embargo's end to ``ends_at``, for ``reason``; the embargo, its version bumped.

    StaleEmbargo when ``seen_version`` is not the stored version (someone moved it meanwhile).
    Every party's acknowledgement goes stale (they agreed to the old instant) and the reminders
    start over for the new one. The reason replaces the embargo's, and the move is kept as an
    internal note with the old and new instants and the reason.
    """
    report = embargo.report
    user = require_coordinator(actor, report)
    now = timezone.now()
    when = end_instant(ends_at, now)
    text = clean_reason(reason)
    key = usable_key(report)
    with transaction.atomic():
        locked = locked_embargo(embargo, seen_version)
        require_running(locked, now, what="move")
        previous = locked.ends_at
        if previous == when:
            raise ReportRejected(
                "ends_at", f"The embargo already ends at {utc_text(when)}: nothing to move.", code="unchanged"
            )
        locked.ends_at, locked.updated_at = when, now
        locked.version += 1
        locked.reminders_sent = steps_reached(when, now)
        locked.reason = seal_field(locked, "reason", text, key=key)
        locked.save(update_fields=["ends_at", "updated_at", "version", "reminders_sent", "reason"])
        note = (
            f"Embargo moved from {utc_text(previous)} to {utc_text(when)} (version {locked.version}).\n\n"
            f"Reason: {text}"
        )
        post_message(report=report, body=note, visibility=Visibility.INTERNAL, actor=user, ip=ip)
        add_timeline(
            report,
            TimelineKind.EMBARGO_CHANGED,
            public=True,
            ends_at=when.isoformat(),
            previous=previous.isoformat(),
        )
        data = {
            "embargo": str(locked.uid),
            "from": previous.isoformat(),
            "to": when.isoformat(),
            "version": locked.version,
        }
        record(event=Event.EMBARGO_CHANGED, actor=actor, target=report, data=data, ip=ip)
        notify_parties(locked, MOVED)
    _refresh(embargo, locked)
    return embargo


def lift_embargo(
    *,
    embargo: Embargo,
    actor: ActorArg,
    reason: str,
    seen_version: int | None = None,
    ip: str | None = None,
) -> Embargo:
    """End a running embargo now, for ``reason`` (kept as an internal note); the parties are told.

    The report is visible to every triager and admin again. StaleEmbargo as for a move.
    """
    report = embargo.report
    user = require_coordinator(actor, report)
    now = timezone.now()
    text = clean_reason(reason)
    with transaction.atomic():
        locked = locked_embargo(embargo, seen_version)
        require_running(locked, now, what="lift")
        locked.lifted_at, locked.lifted_by, locked.updated_at = now, user, now
        locked.version += 1
        locked.save(update_fields=["lifted_at", "lifted_by", "updated_at", "version"])
        if not report.data_key.is_destroyed:
            note = f"Embargo lifted; it was to end {utc_text(locked.ends_at)}.\n\nReason: {text}"
            post_message(report=report, body=note, visibility=Visibility.INTERNAL, actor=user, ip=ip)
        add_timeline(report, TimelineKind.EMBARGO_LIFTED, public=True)
        data = {"embargo": str(locked.uid), "ends_at": locked.ends_at.isoformat(), "version": locked.version}
        record(event=Event.EMBARGO_LIFTED, actor=actor, target=report, data=data, ip=ip)
        notify_parties(locked, LIFTED)
    _refresh(embargo, locked)
    return embargo


def _refresh(embargo: Embargo, locked: Embargo) -> None:
    """Bring the caller's instance up to date with the row just saved."""
    for name in ("ends_at", "version", "reminders_sent", "reason", "lifted_at", "lifted_by_id", "updated_at"):
        setattr(embargo, name, getattr(locked, name))


# --- Parties ---------------------------------------------------------------------------------


def add_party(
    *,
    embargo: Embargo,
    kind: PartyKind | str,
    label: str,
    email: str | None,
    actor: ActorArg,
    ip: str | None = None,
) -> EmbargoParty:
    """Bind an upstream project or an internal team to ``embargo``; the party (new or already there).

    ``email`` (optional, sealed) is where its notices and reminders go; without one, staff record
    its acknowledgement by hand. A party of the same kind and name is not added twice (a second
    hand-off to the same project returns the first party). A party added to a running embargo is
    mailed its end at once.
    """
    report = embargo.report
    require_coordinator(actor, report)
    kind, name, address = clean_party(kind, label, email)
    key = usable_key(report)
    with transaction.atomic():
        locked = locked_embargo(embargo, None)
        existing = locked.parties.filter(kind=kind, label__iexact=name).first()
        if existing is not None:
            return existing
        party = party_row(locked, kind, name, address, key=key)
        data = {
            "embargo": str(locked.uid),
            "party": str(party.uid),
            "kind": kind.value,
            "has_email": bool(address),
        }
        record(event=Event.EMBARGO_PARTY_ADDED, actor=actor, target=report, data=data, ip=ip)
        if locked.is_running():
            notify_parties(locked, ADDED, only=party)
    return party


def acknowledge_embargo(
    *, party: EmbargoParty, actor: ActorArg, seen_version: int | None = None, ip: str | None = None
) -> EmbargoParty:
    """Record that ``party`` agrees to the embargo's current end instant.

    The reporter acknowledges their own party (``reporter_actor``, from the portal); staff who may
    change the embargo record anyone's (an upstream's answer by mail, a team's in a meeting).
    ``seen_version`` is the embargo's version the acknowledging person was shown: if it moved
    since, StaleEmbargo, and nothing is recorded (they agreed to an instant that no longer holds).
    Acknowledging again the same instant changes nothing.
    """
    embargo = party.embargo
    report = embargo.report
    by_reporter = is_reporter_of(actor, report)
    if by_reporter:
        if party.kind != PartyKind.REPORTER:
            raise PermissionDenied("A reporter acknowledges for themselves only.")
    else:
        require_coordinator(actor, report)
    now = timezone.now()
    with transaction.atomic():
        locked = locked_embargo(embargo, seen_version)
        require_running(locked, now, what="acknowledge")
        row = EmbargoParty.objects.select_for_update().get(pk=party.pk, embargo=locked)
        if row.acknowledged_ends_at == locked.ends_at:
            return row
        row.acknowledged_at, row.acknowledged_ends_at = now, locked.ends_at
        row.save(update_fields=["acknowledged_at", "acknowledged_ends_at"])
        # The reporter reads "You acknowledged the embargo."; an internal team is staff business.
        shown = "You" if row.kind == PartyKind.REPORTER else row.label
        add_timeline(
            report,
            TimelineKind.EMBARGO_ACKNOWLEDGED,
            public=row.kind != PartyKind.INTERNAL,
            party=shown,
            party_kind=row.kind,
            ends_at=locked.ends_at.isoformat(),
        )
        data = {
            "embargo": str(locked.uid),
            "party": str(row.uid),
            "kind": row.kind,
            "ends_at": locked.ends_at.isoformat(),
            "recorded_by_staff": not by_reporter,
        }
        record(event=Event.EMBARGO_ACKNOWLEDGED, actor=actor, target=report, data=data, ip=ip)
    party.acknowledged_at, party.acknowledged_ends_at = row.acknowledged_at, row.acknowledged_ends_at
    party.embargo = locked
    return party
