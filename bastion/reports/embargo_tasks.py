"""The embargoes' background work: reminders before an embargo ends, and the mails its services send.

``send_embargo_reminders`` runs every five minutes. For each running embargo whose end is within
the largest step of ``settings.EMBARGO_REMINDER_HOURS`` (7 days, 1 day, 1 hour by default), a step
that has been reached is *claimed* by a conditional UPDATE of ``reminders_sent`` (``... WHERE
version = <read> AND reminders_sent = <read>``) in the same transaction as its audit row and its
mail tasks: of two workers ticking at once, one claims and the other updates nothing, so nothing
is sent twice; a crash before commit leaves the step to the next tick. When several steps were
reached at once (a worker was down, or the embargo was set late), only the nearest is mailed and
the larger ones are marked with it: three reminders in one minute would say nothing more than one.

Mails name the tracking ID, the end instant (in UTC, and on the recipient's wall clock when we know
their zone) and the parties' names, never report content. The reporter is written to the way every
mail to them goes (``reports.mail.reporter_mail``: encrypted to their key when they gave one);
other parties get a clear mail signed by the org key, replies going to the embargo's setter.
Tasks take ids only and rebuild everything from the rows; a mail for an embargo that has since
moved (its ``version`` changed) is not sent, because the mail about the move supersedes it.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.lib.emails import render_email
from bastion.lib.when import as_read_in
from bastion.reports.access import granted_staff
from bastion.reports.links import portal_url
from bastion.reports.mail import message_id, reporter_mail
from bastion.reports.models import AccessGrant, Embargo, EmbargoParty, GrantKind, PartyKind
from bastion.reports.received import opening_mail
from bastion.reports.sealing import open_field
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

# Why a party is written to; the party template's switch. A reminder is "reminder".
SET, MOVED, LIFTED, ADDED, REMINDER = "set", "moved", "lifted", "added", "reminder"
OCCASIONS = (SET, MOVED, LIFTED, ADDED, REMINDER)


def reminder_steps() -> list[int]:
    """The reminder steps, in seconds before the end, largest first (from EMBARGO_REMINDER_HOURS)."""
    return sorted({int(hours) * 3600 for hours in settings.EMBARGO_REMINDER_HOURS}, reverse=True)


def steps_reached(ends_at: datetime, now: datetime) -> list[int]:
    """The steps (seconds before ``ends_at``) whose moment has come at ``now``.

    Setting or moving an embargo marks these as sent at once: the mail about the new end already
    told everyone, and a reminder "a week before" sent a day before would only confuse.
    """
    return sorted(
        (step for step in reminder_steps() if ends_at - timedelta(seconds=step) <= now), reverse=True
    )


def utc_text(instant: datetime) -> str:
    """``instant`` in UTC, written out in full: "14 March 2027, 16:00 UTC"."""
    at = instant.astimezone(UTC)
    return f"{at.day} {at:%B %Y, %H:%M} UTC"


def _local(instant: datetime, zone_name: str) -> str:
    """``instant`` on ``zone_name``'s wall clock, or "" when that is UTC (the UTC line says it all)."""
    return "" if zone_name == "UTC" else as_read_in(instant, zone_name)


def duration_text(seconds: int) -> str:
    """A reminder step in words: "7 days", "1 day", "1 hour", "36 hours"."""
    hours = seconds // 3600
    if hours % 24 == 0:
        days = hours // 24
        return f"{days} day{'s' if days != 1 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def left_text(seconds: float) -> str:
    """Time left until an end, as a reminder says it: "7 days", "24 hours", "1 hour"."""
    hours = round(seconds / 3600)
    if hours >= 48:
        return duration_text(round(hours / 24) * 86400)
    if hours >= 1:
        return duration_text(hours * 3600)
    return "less than an hour"


# --- Reminders -------------------------------------------------------------------------------------


@periodic(every=timedelta(minutes=5))
@task()
def send_embargo_reminders() -> int:
    """Claim and send the reminder step each running embargo has reached; how many were claimed."""
    now = timezone.now()
    steps = reminder_steps()
    if not steps:
        return 0
    horizon = now + timedelta(seconds=steps[0])
    # Read whole before writing: SQLite gives a cursor still being read no isolation from writes.
    due = list(Embargo.objects.running(now).filter(ends_at__lte=horizon).select_related("report"))
    return sum(claim_reminder(embargo, now) for embargo in due)


def claim_reminder(embargo: Embargo, now: datetime) -> int:
    """Claim the nearest reached step of ``embargo`` not yet sent, then audit and mail it; 1 if claimed."""
    sent = sorted({int(step) for step in embargo.reminders_sent}, reverse=True)
    reached = [step for step in steps_reached(embargo.ends_at, now) if step not in sent]
    if not reached:
        return 0
    step = min(reached)
    with transaction.atomic():
        # The claim: only a row still as we read it (same version, same steps sent) is updated.
        # The list is stored sorted, so the same set of steps is always the same JSON value.
        claimed = Embargo.objects.filter(
            pk=embargo.pk,
            version=embargo.version,
            lifted_at__isnull=True,
            reminders_sent=embargo.reminders_sent,
        ).update(reminders_sent=sorted(set(sent) | set(reached), reverse=True))
        if not claimed:
            return 0
        parties = list(embargo.parties.all())
        staff = granted_staff(embargo.report, now=now)
        for party in parties:
            enqueue_on_commit(email_embargo_party, party.pk, embargo.version, REMINDER)
        for user in staff:
            enqueue_on_commit(email_embargo_staff_reminder, embargo.pk, embargo.version, step, user.pk)
        unacknowledged = [party for party in parties if party.acknowledged_ends_at != embargo.ends_at]
        data = {
            "embargo": str(embargo.uid),
            "step_hours": step // 3600,
            "ends_at": embargo.ends_at.isoformat(),
            "parties": len(parties),
            "staff": [user.pk for user in staff],
            "unacknowledged": len(unacknowledged),
        }
        record(event=Event.EMBARGO_REMINDER_SENT, actor=None, target=embargo.report, data=data)
    return 1


# --- Mail to a party -------------------------------------------------------------------------------


def _current(embargo_id: int, version: int) -> Embargo | None:
    """The embargo if it is still at ``version`` (nothing moved it since the mail was queued)."""
    return (
        Embargo.objects.select_related("report__reporter", "report__data_key", "set_by")
        .filter(pk=embargo_id, version=version)
        .first()
    )


@retryable(max_attempts=8)
def email_embargo_party(party_id: int, version: int, occasion: str) -> None:
    """Tell one party of an embargo what it now is (set, moved, lifted, added, or a reminder).

    The reporter is written to on their own terms (encrypted to their key, never when they gave no
    address or wrote from an automatic sender); another party only when staff gave an address.
    Not sent when the embargo has moved on since (the later mail says what holds), nor a reminder
    for an embargo no longer running. A retry after a send may mail twice, which is harmless.
    """
    if occasion not in OCCASIONS:
        raise ValueError(f"unknown occasion {occasion!r}")
    party = EmbargoParty.objects.filter(pk=party_id).first()
    embargo = _current(party.embargo_id, version) if party is not None else None
    if party is None or embargo is None:
        return
    if (occasion == LIFTED) != (embargo.lifted_at is not None):
        return
    if occasion != LIFTED and not embargo.is_running():
        return
    report = embargo.report
    if report.data_key.is_destroyed:
        return
    key = report.data_key_plain()
    context = {
        "occasion": occasion,
        "tracking_id": report.tracking_id,
        "label": party.label,
        "ends_utc": utc_text(embargo.ends_at),
        "acknowledged": party.acknowledged_ends_at == embargo.ends_at,
        "left": left_text((embargo.ends_at - timezone.now()).total_seconds()),
    }
    headers = {
        "Message-ID": message_id(f"embargo-{occasion}-v{version}-p{party.pk}", embargo.uid),
        "References": message_id("embargo", embargo.uid),
    }
    if party.kind == PartyKind.REPORTER:
        reporter = report.reporter
        opening = opening_mail(report)
        if not reporter.has_email or (opening is not None and opening.no_reply):
            return
        zone = reporter.time_zone
        context |= {
            "reporter": True,
            "ends_local": _local(embargo.ends_at, zone),
            "portal_url": portal_url(report),
        }
        to = open_field(reporter, "email", key=key) or ""
        public_key = open_field(reporter, "public_key", key=key)
    else:
        to = open_field(party, "email", key=key) or ""
        if not to:
            return
        # Not a reporter, and no key of theirs is kept: the clear mail, signed by the org key so
        # the party can tell it really comes from us. Replies go to a person, not to the intake
        # mailbox, where a stranger's reply would be taken for a new report.
        public_key = None
        headers["Reply-To"] = embargo.set_by.email
        context |= {"reporter": False, "contact": embargo.set_by.get_full_name()}
    reporter_mail("embargo_party", context, to=[to], public_key=public_key, headers=headers).send()


# --- Mail to staff ---------------------------------------------------------------------------------


def _report_url(embargo: Embargo) -> str:
    return settings.BASE_URL + reverse("triage:report", args=[embargo.report.tracking_id])


@retryable(max_attempts=5)
def email_embargo_staff_reminder(embargo_id: int, version: int, step: int, user_id: int) -> None:
    """Remind a granted staff member that an embargo ends soon, flagging parties yet to acknowledge.

    The end instant is in UTC and in the recipient's own zone. Not sent if the embargo moved or
    was lifted since, or if the recipient lost their grant or their account.
    """
    embargo = _current(embargo_id, version)
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if embargo is None or user is None or not embargo.is_running():
        return
    grants = AccessGrant.objects.in_force().filter(report=embargo.report, user=user, kind=GrantKind.GRANT)
    if not grants.exists():
        return
    parties = list(embargo.parties.all())
    context = {
        "tracking_id": embargo.report.tracking_id,
        "ends_utc": utc_text(embargo.ends_at),
        "ends_local": _local(embargo.ends_at, user.time_zone),
        "step": duration_text(step),
        "unacknowledged": [p.label for p in parties if p.acknowledged_ends_at != embargo.ends_at],
        "acknowledged": [p.label for p in parties if p.acknowledged_ends_at == embargo.ends_at],
        "report_url": _report_url(embargo),
    }
    render_email("embargo_staff_reminder", context, to=[user.email]).send()


@retryable(max_attempts=5)
def email_break_glass(grant_id: int, user_id: int) -> None:
    """Tell ``user`` (the embargo's setter, or an admin) that someone broke the glass on a report.

    Who, which report, when and until when; never the reason, which is sealed and shown on the
    report page to those who may see the report.
    """
    grant = (
        AccessGrant.objects.select_related("user", "report")
        .filter(pk=grant_id, kind=GrantKind.BREAK_GLASS)
        .first()
    )
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if grant is None or user is None:
        return
    zone = user.time_zone
    context = {
        "tracking_id": grant.report.tracking_id,
        "who": grant.user.get_full_name(),
        "who_email": grant.user.email,
        "at_local": as_read_in(grant.granted_at, zone),
        "at_utc": utc_text(grant.granted_at),
        "until_local": as_read_in(grant.expires_at, zone) if grant.expires_at else "",
        "report_url": settings.BASE_URL + reverse("triage:report", args=[grant.report.tracking_id]),
    }
    render_email("embargo_break_glass", context, to=[user.email]).send()
