"""Reading what is kept of a received email, for services and mail tasks alike (no service imports)."""

from __future__ import annotations

from typing import Any

from django.utils.crypto import salted_hmac

from bastion.reports import identifiers
from bastion.reports.models import Channel, ReceivedMail, Report
from bastion.reports.sealing import open_json


def dedupe_digest(message_id: str | None, raw: bytes) -> str:
    """What makes two deliveries the same email: its Message-ID, or, without one, its bytes.

    The bytes are digested with a key (an HMAC under SECRET_KEY): a plain hash of the content in a
    clear column would let whoever reads the database confirm a guess of the whole message.
    """
    if message_id:
        return identifiers.idempotency_digest(Channel.EMAIL, message_id)
    keyed = salted_hmac("bastion.reports.mail-dedupe", raw, algorithm="sha256").hexdigest()
    return identifiers.idempotency_digest(Channel.EMAIL, f"raw:{keyed}")


def open_mail_envelope(mail: ReceivedMail) -> dict[str, Any]:
    """The sealed envelope (sender, subject, Message-ID, ...), for Bastion's own mail tasks.

    Not for showing staff: that is ``services.open_received_mail``, which audits the read.
    """
    return open_json(mail, "envelope", key=mail.data_key.unwrap())


def opening_mail(report: Report) -> ReceivedMail | None:
    """The email that opened ``report``, if it came by email and its key was not shredded."""
    first = report.received_mails.filter(message=None).select_related("data_key").first()
    if first is None or first.data_key.is_destroyed:
        return None
    return first


def reply_headers(first: ReceivedMail | None) -> dict[str, str]:
    """Threading headers for mail about a report: In-Reply-To ``first``, the email that opened it."""
    their_id = open_mail_envelope(first).get("message_id") if first is not None else None
    if not their_id:
        return {}
    return {"In-Reply-To": their_id, "References": their_id}
