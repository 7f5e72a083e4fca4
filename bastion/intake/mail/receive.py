"""``receive_email``: one RFC 5322 message in; a report, a message on one, or mail held back, out.

The three adapters (``bastion mailgate``, the LMTP listener, the IMAP poll) are thin: each hands
the raw bytes here and tells its MTA or mailbox "done" only when this returns, which is after the
commit. What happens to a message, in order:

1. Over ``MAIL_MAX_BYTES``: refused (:class:`MailRefused`, a permanent bounce saying what to do).
2. Seen before (same Message-ID, or same bytes without one): nothing new, :attr:`Outcome.DUPLICATE`.
3. Over a mail flood limit: kept unread in the flood bucket, not answered; staff are alerted once.
4. Read (``lib.inbound``): decrypted, signatures checked over the raw signed bytes, keys found.
   Undecryptable mail is kept whole in quarantine and its sender told how to re-send.
5. A reply to mail we sent a third party about a report (an upstream's answer to a hand-off)
   is kept on that report as a staff-only note. A reply from a report's reporter (our Message-IDs
   in In-Reply-To/References, or its tracking ID in the subject) becomes a message on that report;
   anything else becomes a new report, acknowledged unless RFC 3834 says not to answer it.

A transient fault (the database busy, the OpenPGP engine missing) raises
:class:`TemporaryMailFailure` with nothing committed, so the sender's MTA tries again later.
"""

from __future__ import annotations

import enum
import functools
import io
import logging
import traceback
from dataclasses import dataclass, replace
from email.message import Message

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction

from bastion.accounts.models import User
from bastion.intake.flood import count_mail, mail_flooded
from bastion.intake.mail.alerts import email_mail_flood_alert
from bastion.intake.services import current_policy_version
from bastion.lib import inbound, mailauth, mailparse
from bastion.lib.openpgp import EngineError, OpenPGPError, load_public_key, parse_public_key
from bastion.reports.errors import ReportRejected
from bastion.reports.identifiers import email_digest
from bastion.reports.models import MailState, ReceivedMail
from bastion.reports.received import dedupe_digest
from bastion.reports.services import IncomingFile, Submission
from bastion.reports.services.inbound import (
    SHREDDED_THREAD,
    MailFacts,
    file_mail_for_staff,
    file_mail_reply,
    file_mail_report,
    find_thread,
    hold_mail,
    mail_seen,
    open_received_mail,
    settle_held_mail,
    thread_keys,
)
from bastion.reports.services.submission import LONG_TEXT, SHORT_TEXT
from bastion.vault.orgkey import get_org_key
from bastion.worker.queue import enqueue_on_commit

logger = logging.getLogger(__name__)


class MailSource(enum.StrEnum):
    """How a message reached us: shown to staff, and part of the audit record."""

    MAILGATE = "mailgate"
    LMTP = "lmtp"
    IMAP = "imap"


class Outcome(enum.StrEnum):
    REPORT = "report"  # a new report
    MESSAGE = "message"  # a message on an existing report
    DUPLICATE = "duplicate"  # the same Message-ID was delivered before: nothing new stored
    QUARANTINED = "quarantined"  # undecryptable: sealed whole for staff, the sender told how to re-send
    FLOODED = "flooded"  # over a throttle: stored compactly in the flood bucket, not acknowledged


@dataclass(frozen=True)
class Received:
    outcome: Outcome
    tracking_id: str | None = None


class TemporaryMailFailure(Exception):
    """Nothing was committed and a later retry may succeed (database busy, OpenPGP engine down).

    Adapters map it to EX_TEMPFAIL (75), LMTP 451, or leaving the IMAP message untouched.
    """


class MailRefused(Exception):
    """Permanent refusal (over the size limit). ``str()`` is the bounce text for the sender."""


def log_fault(log: logging.Logger, what: str, exc: BaseException, *, then: str) -> None:
    """Log a failure by its class and frames only: an exception's message may quote the mail."""
    frames = "".join(traceback.format_tb(exc.__traceback__))
    log.error("%s failed (%s); %s\n%s", what, type(exc).__qualname__, then, frames)


def accepts_recipient(address: str) -> bool:
    """Whether we take mail for ``address`` (LMTP refuses others at RCPT)."""
    wanted = address.strip().strip("<>").lower()
    return wanted in {a.lower() for a in settings.MAIL_ADDRESSES}


def receive_email(raw: bytes, *, source: MailSource, recipient: str | None = None) -> Received:
    """Store one message durably and say what it became; return only after commit.

    ``recipient`` is the envelope address it was delivered to, when the adapter knows it (for the
    record only: the adapters refuse other addresses before calling this).
    """
    limit = settings.MAIL_MAX_BYTES
    if len(raw) > limit:
        raise MailRefused(
            f"Your message is {len(raw):,} bytes; we accept up to {limit:,}. Send large files through "
            f"the report form at {settings.BASE_URL}/security/report, or split them over several emails."
        )
    top = _Top.read(raw)
    digest = dedupe_digest(top.message_id, raw)
    try:
        return _receive(raw, MailSource(source), top, digest)
    except IntegrityError:
        # The same Message-ID in two deliveries at once: the other one stored it.
        if mail_seen(digest):
            return Received(Outcome.DUPLICATE)
        raise TemporaryMailFailure("the database refused the message; try again") from None
    except (DatabaseError, EngineError) as exc:
        raise TemporaryMailFailure(f"{type(exc).__name__}: try again later") from exc
    except Exception as exc:
        # A fault of ours this mail would hit on every retry: failing temporarily forever would
        # lose it once the MTA gives up (and stall an IMAP poll behind it). Keep it for staff.
        log_fault(logger, "Reading an email", exc, then="it is quarantined")
        return _quarantine_after_fault(raw, source, top, digest)


def _quarantine_after_fault(raw: bytes, source: MailSource, top: _Top, digest: str) -> Received:
    facts = MailFacts(
        source=MailSource(source).value,
        raw=raw,
        dedupe_digest=digest,
        envelope=top.envelope(),
        problem="error",
        no_reply="error",
    )
    # Counted like any stored mail, or a flood of mail that trips a fault would never be bucketed;
    # but if counting is the fault (a malformed limit), the mail is kept uncounted rather than lost.
    counted = functools.partial(_count, _sender_digest(top))
    fault: Exception | None = None
    for on_stored in (counted, None):
        try:
            hold_mail(facts=facts, state=MailState.QUARANTINED, on_stored=on_stored)
        except DatabaseError as exc:
            # The database, not the counting (busy, say): nothing was stored, and the MTA's retry
            # is counted. Storing it uncounted now would let a flood slip past by failing once.
            raise TemporaryMailFailure("could not store the message; try again later") from exc
        except Exception as exc:
            fault = exc
            continue
        return Received(Outcome.QUARANTINED)
    raise TemporaryMailFailure("could not store the message; try again later") from fault


def release_held_mail(*, mail: ReceivedMail, actor: User, ip: str | None = None) -> Received:
    """Read an email from the flood bucket now, as if it had just arrived under the limit.

    The original is opened (an audited staff read), the held copy is replaced by what the email
    becomes, all in one transaction. Quarantined mail is not released: it could not be decrypted,
    and reading it again would fail again (staff download the original instead).
    """
    with transaction.atomic():
        # Locked and read again: two staff releasing the same mail at once must not both file it.
        held = ReceivedMail.objects.select_for_update().select_related("data_key").filter(pk=mail.pk).first()
        if held is None or held.state != MailState.FLOODED or held.handled_at is not None:
            raise ValueError("only mail still held in the flood bucket can be released")
        opened = open_received_mail(mail=held, actor=actor, ip=ip)
        settle_held_mail(mail=held, actor=actor, released=True, ip=ip)
        top = _Top.read(opened.raw)
        return _receive(opened.raw, MailSource(held.source), top, held.dedupe_digest, throttle=False)


def _receive(raw: bytes, source: MailSource, top: _Top, digest: str, *, throttle: bool = True) -> Received:
    if mail_seen(digest):
        return Received(Outcome.DUPLICATE)
    sender = top.sender
    facts = MailFacts(source=source.value, raw=raw, dedupe_digest=digest, envelope=top.envelope())
    counted = None
    if throttle:
        sender_digest = _sender_digest(top)
        # Counted in the transaction that stores the mail, whatever it becomes (see mail_flooded).
        counted = functools.partial(_count, sender_digest)
        if mail_flooded(sender_digest=sender_digest):
            hold_mail(facts=facts, state=MailState.FLOODED, on_stored=counted)
            return Received(Outcome.FLOODED)
    # The keys on file for the report this mail says it answers: what its signature is checked by.
    known = thread_keys(sender=sender, subject=top.subject, references=top.references)
    org_key = get_org_key()
    try:
        mail = inbound.read_mail(
            raw,
            org_key=org_key,
            sender_keys=lambda _address: _parsed(known),
            own_addresses=settings.MAIL_ADDRESSES,
            trusted_authserv_ids=settings.MAIL_TRUSTED_AUTHSERV_IDS,
            dns=mailauth.system_dns() if settings.MAIL_DKIM_CHECK else None,
            headers=(top.structure, top.display),
        )
    except inbound.UndecryptableMail as exc:
        no_reply = mailparse.no_reply_reason(
            top.structure, from_address=sender, own_addresses=settings.MAIL_ADDRESSES
        )
        held = replace(facts, problem=exc.reason, no_reply=no_reply.value if no_reply else "")
        hold_mail(facts=held, state=MailState.QUARANTINED, on_stored=counted)
        return Received(Outcome.QUARANTINED)
    facts = _facts(facts, mail)
    thread = find_thread(
        sender=mail.from_address,
        subject=mail.subject,
        references=[*mail.references, *mail.in_reply_to],
        dkim_domains=mail.dkim_domains,
        signer=mail.signer_fingerprint if not mail.signer_was_offered else None,
    )
    if thread.note == SHREDDED_THREAD:
        # A third party's reply about a report shredded since. As a new report it would bring back
        # what the shred destroyed (it may quote our mail); staff decide, and nobody is answered.
        held = replace(facts, problem=SHREDDED_THREAD, no_reply="third_party")
        hold_mail(facts=held, state=MailState.QUARANTINED, on_stored=counted)
        return Received(Outcome.QUARANTINED)
    files = _files(mail)
    offered = mail.offered_keys[0].armored_public() if mail.offered_keys else None
    try:
        if thread.for_staff_on is not None:
            about = thread.for_staff_on
            file_mail_for_staff(
                facts=facts, report=about, body=_for_staff(mail), attachments=files, on_stored=counted
            )
            return Received(Outcome.MESSAGE, about.tracking_id)
        if thread.report is not None:
            # A From address is easy to forge: a key arriving on a reply is adopted only when DKIM
            # vouches for the sender's domain, or anyone could make our mail unreadable to them.
            adopt = offered if _sender_domain_signed(mail) else None
            file_mail_reply(
                facts=facts,
                report=thread.report,
                body=_body(mail),
                attachments=files,
                public_key=adopt,
                on_stored=counted,
            )
            return Received(Outcome.MESSAGE, thread.report.tracking_id)
        report = file_mail_report(
            facts=replace(facts, problem=thread.note),
            # Only a key the mail itself brings: one from another report with this address proves
            # nothing (anyone can type an address into the form or a From header).
            submission=_submission(mail, public_key=offered or ""),
            attachments=files,
            policy_version=current_policy_version(),
            acknowledge=not facts.no_reply,
            org_key=org_key,
            on_stored=counted,
        )
    except ReportRejected as exc:
        # Content we cannot file as it is (the checks are the web form's). Never lost: kept for staff.
        held = replace(facts, problem=f"rejected:{exc.field}"[:16])
        hold_mail(facts=held, state=MailState.QUARANTINED, on_stored=counted)
        return Received(Outcome.QUARANTINED)
    return Received(Outcome.REPORT, report.tracking_id)


def _sender_digest(top: _Top) -> str:
    return email_digest(top.sender) if top.sender else ""


def _count(sender_digest: str) -> None:
    """Count a stored email against the mail floods; alert staff (after commit) when it trips one."""
    for scope in count_mail(sender_digest=sender_digest):
        enqueue_on_commit(email_mail_flood_alert, scope)


@dataclass(frozen=True)
class _Top:
    """The top header block, read cheaply (``lib.mailparse``): what dedupes, throttles and quarantines."""

    structure: Message
    display: Message
    sender: str  # lower-cased From address, "" if none
    sender_name: str
    message_id: str | None
    subject: str
    references: tuple[str, ...]  # In-Reply-To and References, oldest first

    @classmethod
    def read(cls, raw: bytes) -> _Top:
        structure, display = mailparse.read_top(raw)
        senders = mailparse.addresses(display, "from")
        sender, name = senders[0] if senders else ("", "")
        references = (
            *mailparse.id_list(structure, "references"),
            *mailparse.id_list(structure, "in-reply-to"),
        )
        subject = mailparse.subject(display)
        return cls(structure, display, sender, name, mailparse.message_id(structure), subject, references)

    def envelope(self) -> dict[str, object]:
        """What the headers say, for mail we do not read further (flooded, quarantined)."""
        return {
            "from": self.sender,
            "from_name": self.sender_name[:SHORT_TEXT],
            "subject": self.subject[:SHORT_TEXT],
            "message_id": self.message_id or "",
            "to": ", ".join(a for a, _ in mailparse.addresses(self.display, "to"))[:SHORT_TEXT],
        }


def _facts(facts: MailFacts, mail: inbound.InboundMail) -> MailFacts:
    envelope = {
        **facts.envelope,
        "from": mail.from_address,
        "from_name": mail.from_name[:SHORT_TEXT],
        "subject": mail.subject[:SHORT_TEXT],
        "authentication_results": list(mail.authentication_results),
        "defects": list(mail.defects)[:20],
    }
    return replace(
        facts,
        envelope=envelope,
        encryption=mail.encryption.value,
        signature=mail.signature.value,
        signer_fingerprint=mail.signer_fingerprint or "",
        dkim=mail.dkim,
        no_reply=mail.no_reply.value if mail.no_reply else "",
    )


def _sender_domain_signed(mail: inbound.InboundMail) -> bool:
    return mail.from_address.rpartition("@")[2] in mail.dkim_domains


def _parsed(armored_keys: list[str]) -> list[inbound.PublicKey]:
    keys = []
    for armored in armored_keys:
        try:
            keys.append(load_public_key(armored))
        except OpenPGPError:
            continue  # a key we once took and a newer engine refuses: it just vouches for nothing
    return keys


def _text(mail: inbound.InboundMail) -> str:
    return mail.text.replace("\x00", "")


def _body(mail: inbound.InboundMail) -> str:
    """The message text, cut to what a message holds (the whole text is kept: see ``_files``)."""
    text = _text(mail).strip()
    if len(text) > LONG_TEXT:
        return text[: LONG_TEXT - 200] + "\n\n[The message was longer; the whole text is attached.]"
    return text or "(The email had no text.)"


def _for_staff(mail: inbound.InboundMail) -> str:
    """A third party's reply as a staff note: who wrote, then what (the note has no sender field)."""
    # The From address is as written: DKIM's verdict and the original are under "How this email arrived".
    sender = mail.from_address or "an unknown sender"
    heading = f"Email from {sender} (From address as written), answering our mail about this report:"
    return f"{heading}\n\n{_body(mail)}"[:LONG_TEXT]


def _submission(mail: inbound.InboundMail, *, public_key: str) -> Submission:
    title = " ".join(mail.subject.replace("\x00", "").split())[:SHORT_TEXT] or "(no subject)"
    key = public_key
    if key:
        try:
            parse_public_key(key)  # usable now: not expired or revoked since the mail offered it
        except OpenPGPError:
            key = ""  # a key problem must never stop a report
    return Submission(
        title=title,
        description=_body(mail),
        reporter_name=" ".join(mail.from_name.replace("\x00", "").split())[:SHORT_TEXT],
        email=mail.from_address if len(mail.from_address) <= 254 else "",
        public_key=key,
    )


def _files(mail: inbound.InboundMail) -> list[IncomingFile]:
    """The mail's attachments, its HTML parts (kept, never rendered) and, if cut, its whole text."""
    files = [
        IncomingFile(filename=part.filename, content_type=part.content_type, stream=io.BytesIO(part.data))
        for part in mail.attachments
    ]
    for number, html in enumerate(mail.html, start=1):
        files.append(IncomingFile(f"message-{number}.html", "text/html", io.BytesIO(html)))
    text = _text(mail)
    if len(text.strip()) > LONG_TEXT:
        files.append(IncomingFile("message.txt", "text/plain", io.BytesIO(text.encode())))
    return files
