"""What staff see about emails: the held-mail queue, and how each email on a report arrived.

:func:`mail_details` opens the sealed envelopes of one report's emails without an audit row of
its own. It is meant to run inside the report page's read, right after ``open_report`` recorded
REPORT_VIEWED: the envelope (sender, subject, authentication results) is part of the report that
read already covers, and a second row per email would say nothing the first does not. The
original email is another matter: fetching it goes through ``open_received_mail``, which is
audited on its own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.db.models import QuerySet

from bastion.reports.models import MailState, ReceivedMail, Report
from bastion.reports.sealing import open_json

ENCRYPTION_LABELS = {
    "pgp_mime": "PGP/MIME encrypted",
    "inline": "inline PGP encrypted",
    "none": "not encrypted",
    "": "not encrypted",
}
SOURCE_LABELS = {"mailgate": "mailgate (MTA pipe)", "lmtp": "LMTP", "imap": "IMAP poll"}
# Notes ``find_thread`` leaves on an email that became a new report although it looked like a reply.
THREAD_NOTES = {
    "unmatched_reply": "Looked like a reply, but to no report we know: filed as a new report.",
    "not_the_reporter": "Named or answered a report, but the sender is not that report's reporter: "
    "filed as a new report.",
    "unverified_reply": "Named one of the sender's reports, but without proof it came from them (no "
    "Message-ID of ours, no DKIM for their domain, no signature by their key): filed as a new report.",
}


def held_mail() -> QuerySet[ReceivedMail]:
    """Mail waiting for staff: quarantined or flooded, neither released nor dismissed, newest first.

    The one definition of "held", shared by the mailbox page and the inbox's count.
    """
    held = ReceivedMail.objects.filter(state__in=[MailState.QUARANTINED, MailState.FLOODED])
    return held.filter(handled_at__isnull=True).order_by("-received_at", "-id")


def encryption_label(value: str) -> str:
    """How an email was encrypted, in words ("PGP/MIME encrypted", "not encrypted")."""
    return ENCRYPTION_LABELS.get(value, value)


def source_label(value: str) -> str:
    """Which adapter took an email in."""
    return SOURCE_LABELS.get(value, value)


@dataclass(frozen=True)
class MailDetails:
    """One email on a report: the clear columns (``mail``) and its opened envelope.

    ``number`` counts the report's emails from 1 in order of arrival (1 is usually the email that
    opened the report); it names the original when downloaded.
    """

    mail: ReceivedMail
    number: int
    sender: str = field(repr=False)
    sender_name: str = field(repr=False)
    subject: str = field(repr=False)
    date: str = field(repr=False)
    header_message_id: str = field(repr=False)  # the Message-ID header (``mail.message_id`` is our FK)
    authentication_results: list[str] = field(repr=False)
    defects: list[str] = field(repr=False)

    @property
    def is_opening(self) -> bool:
        """Whether this email opened the report (a reply is tied to a message instead)."""
        return self.mail.message_id is None

    @property
    def source(self) -> str:
        return source_label(self.mail.source)

    @property
    def encryption(self) -> str:
        return encryption_label(self.mail.encryption)

    @property
    def thread_note(self) -> str:
        return THREAD_NOTES.get(self.mail.problem, "")


def mail_details(report: Report, key: bytes) -> list[MailDetails]:
    """Every email ``report`` came with, oldest first, envelopes opened with the report's ``key``.

    Not audited here: call it only within a read that ``open_report`` recorded (see the module
    docstring). The envelope's fields come from the sender's mail, so they are text to escape, never
    markup; the lists are made lists of strings whatever the envelope holds.
    """
    # The originals stay in the database: the page shows none of them, and each may be megabytes.
    mails = ReceivedMail.objects.filter(report=report).defer("raw").order_by("received_at", "id")
    details = []
    for number, mail in enumerate(mails, start=1):
        envelope = open_json(mail, "envelope", key=key)
        details.append(
            MailDetails(
                mail=mail,
                number=number,
                sender=_text(envelope.get("from")),
                sender_name=_text(envelope.get("from_name")),
                subject=_text(envelope.get("subject")),
                date=_text(envelope.get("date")),
                header_message_id=_text(envelope.get("message_id")),
                authentication_results=text_lines(envelope.get("authentication_results")),
                defects=text_lines(envelope.get("defects")),
            )
        )
    return details


def mail_number(mail: ReceivedMail, report: Report) -> int:
    """``mail``'s :attr:`MailDetails.number` on ``report``, counted without opening anything."""
    on_report = ReceivedMail.objects.filter(report=report)
    earlier = on_report.filter(received_at__lt=mail.received_at).count()
    return earlier + on_report.filter(received_at=mail.received_at, id__lte=mail.pk).count()


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def text_lines(value: Any) -> list[str]:
    """An envelope's list (authentication results, defects) as lines of text, whatever it holds."""
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, str) else json.dumps(item, sort_keys=True) for item in value]
