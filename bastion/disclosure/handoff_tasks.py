"""The hand-off's background work: mailing the packet upstream, and reminders before its deadline.

``email_handoff`` takes a Handoff's id, opens its sealed packet (Bastion sending what staff chose to
send is not a staff read, so it is not audited again) and mails it PGP/MIME: the Markdown summary
as the text and the CSAF draft as a JSON part, both inside the encryption, signed by the org key.
``sent_at`` is set after the send (a crash in between means one duplicate mail, never a lost one).

``remind_upstream_deadlines`` runs every 15 minutes. For a hand-off with a deadline whose upstream
has not fixed yet, each step of ``UPSTREAM_REMINDER_HOURS`` before the deadline, and once when it
is overdue, mails the staff member who handed it over and the report's assignee. Each step is
claimed by a conditional UPDATE of ``reminders_sent`` (only if it is still what we read), in the
transaction that writes the audit row and queues the mails: of two workers, one sends.
Mail to staff names the tracking ID, the project, the status and the deadline, never content.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from email import policy
from email.encoders import encode_7or8bit
from email.message import EmailMessage as MIMEEntity
from email.mime.application import MIMEApplication

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.services import record
from bastion.disclosure.handoff import SETTLED, Packet, utc_text
from bastion.disclosure.models import Channel, Handoff, HandoffStatus
from bastion.lib.emails import render_email
from bastion.lib.openpgp import OpenPGPError, encrypt, load_public_key
from bastion.lib.when import as_read_in
from bastion.reports.access import may_see
from bastion.reports.mail import EncryptedEmail, message_id
from bastion.reports.sealing import open_json
from bastion.vault.orgkey import get_org_key
from bastion.worker.queue import enqueue_on_commit, retryable
from bastion.worker.scheduler import periodic

logger = logging.getLogger(__name__)

OVERDUE = "overdue"


# --- The packet by mail ---------------------------------------------------------------------------


def _part(data: bytes, subtype: str, description: str) -> MIMEApplication:
    part = MIMEApplication(data, subtype, _encoder=encode_7or8bit)
    del part["MIME-Version"]  # only the top level carries it
    part["Content-Description"] = description
    return part


def handoff_mail(handoff: Handoff, packet: Packet) -> EncryptedEmail:
    """The PGP/MIME mail (RFC 3156) carrying ``packet`` to ``handoff``'s contact.

    Like ``reports.mail.encrypt_email``, but the encrypted entity is multipart: the packet's text
    and the CSAF draft as ``application/json``, so the upstream's tools can take the file as it is.
    The outer subject names only our tracking ID. KeyRejected if the key became unusable.
    """
    contact = handoff.contact
    context = {
        "contact_name": contact.contact_name,
        "project": contact.project,
        "tracking_id": packet.tracking_id,
        "csaf_name": packet.csaf_name,
        "deadline": utc_text(handoff.deadline) if handoff.deadline else "",
        "packet": packet.markdown,
    }
    headers = {"Message-ID": message_id("handoff", handoff.uid)}
    clear = render_email(
        "upstream_handoff",
        context,
        to=[contact.email],
        reply_to=[settings.DEFAULT_FROM_EMAIL],
        headers=headers,
    )
    inner = MIMEEntity(policy=policy.SMTP)  # CRLF: the canonical form RFC 3156 signs
    inner["Subject"] = clear.subject
    inner.set_content(clear.body, cte="quoted-printable")
    inner.add_attachment(
        packet.csaf_json().encode("utf-8"), maintype="application", subtype="json", filename=packet.csaf_name
    )
    inner.set_param("protected-headers", "v1")
    del inner["MIME-Version"]
    armored = encrypt(
        inner.as_bytes(), recipients=[load_public_key(contact.public_key)], signer=get_org_key()
    )
    version = _part(b"Version: 1\r\n", "pgp-encrypted", "PGP/MIME version identification")
    payload = _part(armored, "octet-stream", "OpenPGP encrypted message")
    payload.add_header("Content-Disposition", "inline", filename="encrypted.asc")
    return EncryptedEmail(
        subject=clear.subject,
        body="",
        from_email=clear.from_email,
        to=clear.to,
        reply_to=clear.reply_to,
        headers=clear.extra_headers,
        attachments=[version, payload],
    )


@retryable(max_attempts=8)
def email_handoff(handoff_id: int) -> None:
    """Mail a hand-off's packet to its upstream, once. Nothing for one already sent or shredded.

    A key that lapsed between the hand-off and this run is not retried (it will not get better):
    the hand-off stays unsent, which its page shows, and staff update the key and hand over again.
    """
    handoff = (
        Handoff.objects.select_related("contact", "report__data_key")
        .filter(pk=handoff_id, sent_at__isnull=True, channel=Channel.EMAIL)
        .first()
    )
    if handoff is None or handoff.report.data_key.is_destroyed:
        return
    packet = Packet.from_json(open_json(handoff, "packet", key=handoff.report.data_key_plain()))
    try:
        message = handoff_mail(handoff, packet)
    except OpenPGPError as error:
        logger.warning("Hand-off %s not mailed: the upstream key is unusable (%s)", handoff.uid, error.reason)
        return
    message.send()
    Handoff.objects.filter(pk=handoff.pk, sent_at__isnull=True).update(sent_at=timezone.now())


# --- Reminders before the deadline -------------------------------------------------------------------


def due_steps(deadline: datetime, sent: list[str], now: datetime, hours: list[int]) -> list[str]:
    """The reminder steps reached at ``now`` and not sent yet, most urgent last.

    Only the last one is mailed: a deadline set 10 hours away has passed its 7-day and 1-day steps
    at once, and one reminder says it all; the others are marked sent with it.
    """
    if deadline <= now:
        return [] if OVERDUE in sent else [OVERDUE]
    left = deadline - now
    reached = [str(h) for h in sorted(set(hours), reverse=True) if left <= timedelta(hours=h)]
    return [step for step in reached if step not in sent]


@periodic(every=timedelta(minutes=15))
@task()
def remind_upstream_deadlines() -> int:
    """Mail the reminders due before (or past) upstream deadlines; how many steps were claimed."""
    now = timezone.now()
    hours = [int(h) for h in settings.UPSTREAM_REMINDER_HOURS]
    horizon = now + timedelta(hours=max(hours, default=0))
    pending = (
        Handoff.objects.filter(deadline__isnull=False, deadline__lte=horizon)
        .exclude(status__in=SETTLED)
        .select_related("report__assignee", "created_by", "contact")
    )
    claimed = 0
    for handoff in list(pending):  # read whole before writing (SQLite cursors see their own writes)
        assert handoff.deadline is not None
        steps = due_steps(handoff.deadline, list(handoff.reminders_sent), now, hours)
        if steps:
            claimed += _claim(handoff, steps)
    return claimed


def _claim(handoff: Handoff, steps: list[str]) -> int:
    """Mark ``steps`` sent if nobody did since we read the row; mail the last of them. 1 if claimed."""
    marked = [*handoff.reminders_sent, *steps]
    with transaction.atomic():
        rows = Handoff.objects.filter(
            pk=handoff.pk, deadline=handoff.deadline, reminders_sent=handoff.reminders_sent
        ).exclude(status__in=SETTLED)
        if not rows.update(reminders_sent=marked):
            return 0
        step = steps[-1]
        recipients = reminder_recipients(handoff)
        for user in recipients:
            enqueue_on_commit(email_handoff_reminder, handoff.pk, step, user.pk)
        data = {"handoff": str(handoff.uid), "step": step, "to": [user.pk for user in recipients]}
        record(event=Event.HANDOFF_REMINDER_SENT, actor=None, target=handoff.report, data=data)
    return 1


def reminder_recipients(handoff: Handoff) -> list[User]:
    """Who chases the upstream: whoever handed it over and the report's assignee, if they still may
    see the report (an embargo grant revoked since ends their reminders too)."""
    people = [handoff.created_by, handoff.report.assignee]
    unique = {user.pk: user for user in people if user is not None and user.is_active}
    return [user for user in unique.values() if may_see(user, handoff.report)]


@retryable(max_attempts=5)
def email_handoff_reminder(handoff_id: int, step: str, user_id: int) -> None:
    """Mail ``user`` that the upstream's deadline is near (``step`` hours) or past (``overdue``).

    Not sent if the upstream has fixed since, or the deadline moved (the step no longer applies).
    """
    handoff = Handoff.objects.select_related("report", "contact").filter(pk=handoff_id).first()
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if handoff is None or user is None or handoff.deadline is None or handoff.status in SETTLED:
        return
    if step not in handoff.reminders_sent:
        return
    context = {
        "step": step,
        "overdue": step == OVERDUE,
        "hours": step if step != OVERDUE else "",
        "tracking_id": handoff.report.tracking_id,
        "project": handoff.contact.project,
        "status": HandoffStatus(handoff.status).label,
        "deadline": as_read_in(handoff.deadline, user.time_zone),
        "handoff_url": settings.BASE_URL + reverse("disclosure_staff:handoff", args=[handoff.uid]),
    }
    render_email("handoff_reminder", context, to=[user.email]).send()
