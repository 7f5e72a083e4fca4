"""Background work for reports: the mails to reporters.

Tasks take ids only; the address, the key and the link are rebuilt from the rows. Each mail is
marked sent after it went out (a crash in between means one duplicate mail, never a lost one),
and a task finding it already sent stops: retries and the sweeper's re-runs are harmless. Bastion
decrypting a reporter's address to write to them is not a staff read, so it is not audited.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from django_tasks import task

from bastion.lib.emails import render_email
from bastion.lib.when import as_read_in
from bastion.reports import (  # noqa: F401  (registers their periodic tasks)
    clock_tasks,
    embargo_tasks,
    retention_tasks,
)
from bastion.reports.links import portal_url
from bastion.reports.mail import message_id as mail_id
from bastion.reports.mail import reporter_mail
from bastion.reports.models import AuthorKind, MailState, Message, ReceivedMail, Report, Visibility
from bastion.reports.received import open_mail_envelope, opening_mail, reply_headers
from bastion.reports.sealing import open_field
from bastion.reports.workflow import Status
from bastion.vault.orgkey import get_org_public_key
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

# The acknowledgement sweep looks this far back for reports whose mail never went out (the enqueue
# after commit failed, or every retry did). Bounded, so an address that always bounces is given up.
ACK_SWEEP_WINDOW = timedelta(days=1)
# ...and leaves alone reports younger than this, whose own task is probably still on its way.
ACK_SWEEP_GRACE = timedelta(minutes=15)


def _local(report: Report) -> str:
    """When ``report`` arrived, as its reporter reads it (see ``lib.when``)."""
    return as_read_in(report.received_at, report.reporter.time_zone)


@retryable(max_attempts=8)
def email_acknowledgement(report_id: int) -> None:
    """Acknowledge a report by mail: tracking ID, portal link and the signed receipt; never its content.

    Encrypted to the reporter's key when one was given. Does nothing for a report without an
    address, already acknowledged, or whose key was shredded.
    """
    report = Report.objects.select_related("reporter", "data_key", "receipt").filter(pk=report_id).first()
    if report is None or report.acknowledged_at is not None or not report.reporter.has_email:
        return
    if report.data_key.is_destroyed:
        return
    key = report.data_key_plain()
    reporter = report.reporter
    opening = opening_mail(report)
    if opening is not None and opening.no_reply:  # RFC 3834: never answer an automatic message
        return
    context = {
        "tracking_id": report.tracking_id,
        "email_note": opening.problem if opening is not None else "",
        "received": _local(report),
        "portal_url": portal_url(report),
        "receipt": report.receipt.statement,
        "org_fingerprint": report.receipt.org_key_fingerprint,
    }
    reporter_mail(
        "report_acknowledgement",
        context,
        to=[open_field(reporter, "email", key=key) or ""],
        public_key=open_field(reporter, "public_key", key=key),
        headers={"Message-ID": mail_id("report", report.uid), **reply_headers(opening)},
    ).send()
    Report.objects.filter(pk=report.pk, acknowledged_at__isnull=True).update(acknowledged_at=timezone.now())


@retryable(max_attempts=8)
def email_staff_reply(message_id: int) -> None:
    """Tell the reporter the security team replied; the reply itself only when the mail is encrypted.

    Clear mail says only that there is a new message in the portal (DESIGN.md §5: no report
    plaintext in clear mail). Only public staff messages are mailed, once each.
    """
    message = (
        Message.objects.select_related("report__reporter", "report__data_key")
        .filter(pk=message_id, notified_at__isnull=True)
        .first()
    )
    if message is None or message.author_kind != AuthorKind.STAFF or message.visibility != Visibility.PUBLIC:
        return
    report = message.report
    if not report.reporter.has_email or report.data_key.is_destroyed:
        return
    key = report.data_key_plain()
    public_key = open_field(report.reporter, "public_key", key=key)
    context = {"tracking_id": report.tracking_id, "portal_url": portal_url(report)}
    # Opened only when it can be encrypted, so the reply never sits in memory for a clear mail.
    private = {"reply": open_field(message, "body", key=key) or ""} if public_key else None
    reporter_mail(
        "report_staff_reply",
        context,
        to=[open_field(report.reporter, "email", key=key) or ""],
        public_key=public_key,
        private=private,
        headers={
            "Message-ID": mail_id("message", message.uid),
            "In-Reply-To": mail_id("report", report.uid),
            "References": mail_id("report", report.uid),
        },
    ).send()
    Message.objects.filter(pk=message.pk, notified_at__isnull=True).update(notified_at=timezone.now())


@retryable(max_attempts=8)
def email_status_change(report_id: int, previous: str, current: str) -> None:
    """Tell the reporter their report moved from ``previous`` to ``current`` (status names only).

    Not marked as sent: a retry after a send may mail the same change twice, which says nothing
    wrong. A report whose status has moved on since is not mailed about the older change.
    """
    report = Report.objects.select_related("reporter", "data_key").filter(pk=report_id).first()
    if report is None or report.status != current or not report.reporter.has_email:
        return
    if report.data_key.is_destroyed:
        return
    key = report.data_key_plain()
    context = {
        "tracking_id": report.tracking_id,
        "previous": Status(previous).label,
        "status": Status(current).label,
        "portal_url": portal_url(report),
    }
    reporter_mail(
        "report_status_changed",
        context,
        to=[open_field(report.reporter, "email", key=key) or ""],
        public_key=open_field(report.reporter, "public_key", key=key),
        headers={
            "Message-ID": mail_id(f"status-{current}", report.uid),
            "In-Reply-To": mail_id("report", report.uid),
            "References": mail_id("report", report.uid),
        },
    ).send()


@retryable(max_attempts=8)
def email_mail_quarantined(received_mail_id: int) -> None:
    """Tell the sender of an undecryptable email that it was kept but could not be read, and how to
    re-send it. Once per email (``handled_at`` is left for staff; the envelope records the notice).
    """
    mail = ReceivedMail.objects.select_related("data_key").filter(pk=received_mail_id).first()
    if mail is None or mail.state != MailState.QUARANTINED or mail.no_reply or mail.data_key.is_destroyed:
        return
    envelope = open_mail_envelope(mail)
    if not envelope.get("from"):
        return
    headers = {"Message-ID": mail_id("quarantine", mail.uid)}
    if envelope.get("message_id"):
        headers |= {"In-Reply-To": envelope["message_id"], "References": envelope["message_id"]}
    context = {
        "reason": mail.problem,
        "key_url": f"{settings.BASE_URL}/.well-known/security-key.asc",
        "org_fingerprint": get_org_public_key().fingerprint,
        "report_url": f"{settings.BASE_URL}/security/report",
    }
    render_email("mail_quarantined", context, to=[envelope["from"]], headers=headers).send()


@retryable(max_attempts=5)
def email_portal_links(report_id: int) -> None:
    """Mail the portal links of every report from the address of ``report_id``'s reporter.

    The visitor asked for them (``send_portal_links``). Not marked as sent: each request is a new
    mail, and a duplicate after a retry is harmless. Encrypted to the newest report's key, if any.
    """
    report = Report.objects.select_related("reporter", "data_key").filter(pk=report_id).first()
    if report is None or not report.reporter.has_email or report.data_key.is_destroyed:
        return
    key = report.data_key_plain()
    address = open_field(report.reporter, "email", key=key) or ""
    reports = Report.objects.for_email(address).select_related("reporter")
    items = [{"tracking_id": r.tracking_id, "received": _local(r), "url": portal_url(r)} for r in reports]
    reporter_mail(
        "report_portal_links",
        {"reports": items},
        to=[address],
        public_key=open_field(report.reporter, "public_key", key=key),
    ).send()


@periodic(every=timedelta(hours=1))
@task()
def acknowledge_waiting_reports() -> int:
    """Re-enqueue the acknowledgement of recent reports that were never acknowledged; how many.

    The backstop for a lost enqueue (the commit succeeded, the enqueue after it did not) or a mail
    relay that was down for longer than all the retries.
    """
    now = timezone.now()
    waiting = Report.objects.awaiting_acknowledgement().filter(
        received_at__gte=now - ACK_SWEEP_WINDOW, received_at__lte=now - ACK_SWEEP_GRACE
    )
    ids = list(waiting.values_list("pk", flat=True)[:500])
    for report_id in ids:
        enqueue_on_commit(email_acknowledgement, report_id)
    return len(ids)
