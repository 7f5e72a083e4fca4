"""Storing email: a new report, a reply from one, a third party's reply kept for staff, and mail
held back (quarantine, flood bucket).

Intake's ``receive_email`` reads the message and decides where it goes; these services store it.
Every email is kept whole, sealed (``ReceivedMail``), in the same transaction as what it became,
so a delivery is either entirely stored or not at all, and the MTA is told "delivered" only after.
"""

from __future__ import annotations

import functools
import re
import uuid
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.lib import lean
from bastion.lib.openpgp import OpenPGPError, SecretKey, load_public_key
from bastion.reports import identifiers
from bastion.reports.models import (
    Channel,
    MailState,
    Message,
    ReceivedMail,
    Report,
    Visibility,
)
from bastion.reports.received import dedupe_digest
from bastion.reports.sealing import open_field, open_json, seal_json
from bastion.reports.services._shared import IncomingFile, reporter_actor, require_staff_reader
from bastion.reports.services.conversation import post_message
from bastion.reports.services.lifecycle import update_reporter
from bastion.reports.services.submission import Submission, submit_report
from bastion.reports.tasks import email_mail_quarantined
from bastion.reports.third_party_mail import lookup_for
from bastion.vault.sealing import seal_bytes, unseal_bytes
from bastion.vault.services import create_data_key
from bastion.worker.queue import enqueue_on_commit

# What the caller needs committed with a stored email (intake counts it against the mail floods).
OnStored = Callable[[], object]

TRACKING_ID_IN_TEXT = re.compile(r"\bBST-[0-9A-Z]{10}\b")
# Our own Message-IDs (reports.mail.message_id): <report.UUID@domain> and <message.UUID@domain>.
_OUR_ID = re.compile(r"<(report|message)\.([0-9a-f-]{36})@[^>]+>")
# The same form for mail we send to others about a report, of a kind another app registers.
_THEIR_THREAD = re.compile(r"<([a-z]+)\.([0-9a-f-]{36})@[^>]+>")

# A reply to third-party mail about a report shredded since: kept in quarantine, never a new report
# (it may quote what the shred destroyed). Also the mail's ``problem`` there (16 characters at most).
SHREDDED_THREAD = "shredded_report"


@dataclass(frozen=True, kw_only=True)
class MailFacts:
    """What reading an email found. ``envelope`` is sealed; the other fields are shown in clear."""

    source: str
    raw: bytes = field(repr=False)
    dedupe_digest: str
    envelope: dict[str, Any] = field(repr=False)  # from, from_name, to, subject, message_id, ...
    encryption: str = ""
    signature: str = ""
    signer_fingerprint: str = ""
    dkim: str = ""
    no_reply: str = ""
    problem: str = ""


def mail_seen(digest: str) -> bool:
    """Whether an email with this dedupe digest is stored already."""
    return lean.exists(ReceivedMail, dedupe_digest=digest)


def file_mail_report(
    *,
    facts: MailFacts,
    submission: Submission,
    attachments: Sequence[IncomingFile],
    policy_version: int,
    acknowledge: bool,
    org_key: SecretKey | None = None,
    on_stored: OnStored | None = None,
) -> Report:
    """A new report from an email, with the original kept; acknowledged unless ``acknowledge`` is False.

    The original is stored inside the report's own transaction, so both commit or neither does,
    while the report's sealing and signing still happen before it takes the lock. ``org_key`` is
    the org key the caller read the mail with (it signs the receipt: one fetch per email), and
    ``on_stored()`` runs last inside the transaction, for what must commit with the mail.
    """

    def stored(report: Report) -> None:
        _keep(facts, state=MailState.ACCEPTED, report=report, message=None)
        if on_stored is not None:
            on_stored()

    result = submit_report(
        submission=submission,
        attachments=attachments,
        channel=Channel.EMAIL,
        policy_version=policy_version,
        actor=None,
        acknowledge=acknowledge,
        org_key=org_key,
        on_stored=stored,
    )
    return result.report


def file_mail_reply(
    *,
    facts: MailFacts,
    report: Report,
    body: str,
    attachments: Sequence[IncomingFile],
    public_key: str | None = None,
    on_stored: OnStored | None = None,
) -> Message:
    """The reporter's emailed reply as a message on ``report``, with the original kept.

    ``public_key`` (a key the mail offered) is stored on the reporter when they have none yet, so
    later mail to them is encrypted. A key already on file is never replaced from mail: changing it
    is for the portal, where the reporter is authenticated by their link. ``on_stored()`` runs last
    inside the transaction.
    """
    actor = reporter_actor(report)
    with transaction.atomic():
        message = post_message(
            report=report,
            body=body,
            visibility=Visibility.PUBLIC,
            actor=actor,
            attachments=attachments,
        )
        _keep(facts, state=MailState.ACCEPTED, report=report, message=message)
        if public_key and report.reporter.public_key is None:
            update_reporter(report=report, actor=actor, public_key=public_key)
        if on_stored is not None:
            on_stored()
    return message


def file_mail_for_staff(
    *,
    facts: MailFacts,
    report: Report,
    body: str,
    attachments: Sequence[IncomingFile],
    on_stored: OnStored | None = None,
) -> Message:
    """A third party's emailed reply about ``report`` (see ``Thread.for_staff_on``), kept as an
    internal note: staff only, under the report's embargo if it has one, with the original kept.
    ``on_stored()`` runs last inside the transaction."""
    with transaction.atomic():
        message = post_message(
            report=report, body=body, visibility=Visibility.INTERNAL, actor=None, attachments=attachments
        )
        _keep(facts, state=MailState.ACCEPTED, report=report, message=message)
        if on_stored is not None:
            on_stored()
    return message


def hold_mail(*, facts: MailFacts, state: MailState, on_stored: OnStored | None = None) -> ReceivedMail:
    """Keep an email that became nothing yet: quarantined (undecryptable) or in the flood bucket.

    A quarantined mail is audited and, unless it must get no automatic reply, answered with how to
    re-send it. Flooded mail is neither: one alert per flood (intake's counters) is what staff get,
    and auditing or answering each message would let the flood spill into the audit trail or
    turn us into a mail cannon. ``on_stored()`` runs last inside the transaction.
    """
    if state == MailState.ACCEPTED:
        raise ValueError("accepted mail belongs to a report: use file_mail_report or file_mail_reply")
    with transaction.atomic():
        mail = _keep(facts, state=state, report=None, message=None)
        if state == MailState.QUARANTINED:
            data = {"reason": facts.problem, "source": facts.source, "size": mail.size}
            record(event=Event.MAIL_QUARANTINED, actor=None, target=mail, data=data)
            # The notice explains how to re-send encrypted mail: only for mail we could not decrypt,
            # not for a fault of ours ("error") or content the form would refuse ("rejected:...").
            undecryptable = facts.problem != "error" and not facts.problem.startswith("rejected:")
            if undecryptable and not facts.no_reply and facts.envelope.get("from"):
                enqueue_on_commit(email_mail_quarantined, mail.pk)
        if on_stored is not None:
            on_stored()
    return mail


def _keep(
    facts: MailFacts, *, state: MailState, report: Report | None, message: Message | None
) -> ReceivedMail:
    uid = uuid.uuid4()
    if report is not None:
        data_key, key = report.data_key, report.data_key_plain()
    else:
        data_key, key = create_data_key(subject=f"mail:{uid}")
    mail = ReceivedMail(
        uid=uid,
        state=state,
        source=facts.source,
        dedupe_digest=facts.dedupe_digest,
        report=report,
        message=message,
        data_key=data_key,
        size=len(facts.raw),
        encryption=facts.encryption,
        signature=facts.signature,
        signer_fingerprint=facts.signer_fingerprint,
        dkim=facts.dkim,
        no_reply=facts.no_reply,
        problem=facts.problem,
    )
    label = ReceivedMail._meta.label
    mail.raw = seal_bytes(zlib.compress(facts.raw), key=key, model_label=label, field="raw", row_id=uid)
    mail.envelope = seal_json(mail, "envelope", facts.envelope, key=key)
    lean.insert(mail)  # every email takes this path: the lean insert, not the query compiler
    return mail


@dataclass(frozen=True)
class OpenedMail:
    mail: ReceivedMail
    envelope: dict[str, Any] = field(repr=False)
    raw: bytes = field(repr=False)


def open_received_mail(*, mail: ReceivedMail, actor: ActorArg, ip: str | None = None) -> OpenedMail:
    """The original email, byte for byte, and its envelope, for staff; audited before it is opened."""
    require_staff_reader(actor)
    with transaction.atomic():
        record(event=Event.MAIL_ORIGINAL_OPENED, actor=actor, target=mail, data={"size": mail.size}, ip=ip)
        key = mail.data_key.unwrap()
        label = ReceivedMail._meta.label
        packed = unseal_bytes(bytes(mail.raw), key=key, model_label=label, field="raw", row_id=mail.uid)
        envelope = open_json(mail, "envelope", key=key)
    return OpenedMail(mail=mail, envelope=envelope, raw=zlib.decompress(packed))


@dataclass(frozen=True)
class Thread:
    """Where a reply belongs: ``report``, or None and a ``note`` saying why it starts a new one.

    ``for_staff_on`` is set instead when the mail answers one we sent a third party about that
    report (``reports.third_party_mail``): it is kept there for staff only.
    """

    report: Report | None
    note: str = ""  # "", "unmatched_reply", "not_the_reporter", "unverified_reply" or SHREDDED_THREAD
    for_staff_on: Report | None = None


@dataclass(frozen=True)
class _Candidate:
    report: Report
    ours: bool  # named by a Message-ID of a mail we sent to its reporter (an unguessable UUID)


def find_thread(
    *,
    sender: str,
    subject: str,
    references: Sequence[str],
    dkim_domains: Sequence[str] = (),
    signer: str | None = None,
) -> Thread:
    """The report an email continues: one whose reporter sent it, named by the mail and proven.

    A tracking ID is not a secret and a From address is easy to forge, so a match by the sender's
    address alone is not enough. The mail must also answer a Message-ID of ours (UUIDs only the
    reporter's mailbox has seen), or carry a DKIM signature of the sender's domain, or be signed
    (``signer``) by the key on file for that report's reporter. Reports whose key was shredded
    take no more mail.
    """
    answered = _third_party_thread(references)
    if answered is not None:  # a UUID of mail we sent them (reports.third_party_mail)
        return answered
    candidates = _referenced(references) + [_Candidate(r, ours=False) for r in _named(subject)]
    looks_like_reply = bool(references) or bool(TRACKING_ID_IN_TEXT.search(subject))
    senders = set(identifiers.email_digests(sender)) if sender else set()
    theirs = [c for c in candidates if c.report.reporter.email_digest in senders]
    for candidate in theirs:
        if candidate.ours or _proven(candidate.report, sender, dkim_domains, signer):
            return Thread(report=candidate.report)
    if theirs:
        return Thread(report=None, note="unverified_reply")
    if candidates:
        return Thread(report=None, note="not_the_reporter")
    return Thread(report=None, note="unmatched_reply" if looks_like_reply else "")


def thread_keys(*, sender: str, subject: str, references: Sequence[str]) -> list[str]:
    """The keys on file for the reports this mail names from its sender: to check its signature.

    Only the named reports' own keys: a key given with some other report for the same address
    could have been planted there by anyone (neither the web form nor a From header proves an
    address), and would then vouch for that person's forged mail.
    """
    senders = set(identifiers.email_digests(sender)) if sender else set()
    candidates = _referenced(references) + [_Candidate(r, ours=False) for r in _named(subject)]
    keys: list[str] = []
    for candidate in candidates:
        report = candidate.report
        if report.reporter.email_digest in senders and report.reporter.public_key is not None:
            armored = open_field(report.reporter, "public_key", key=report.data_key_plain())
            if armored and armored not in keys:
                keys.append(armored)
    return keys


def _proven(report: Report, sender: str, dkim_domains: Sequence[str], signer: str | None) -> bool:
    if sender.rpartition("@")[2] in dkim_domains:
        return True
    if signer is None or report.reporter.public_key is None:
        return False
    armored = open_field(report.reporter, "public_key", key=report.data_key_plain()) or ""
    try:
        return load_public_key(armored).fingerprint == signer
    except OpenPGPError:
        return False


def _third_party_thread(references: Sequence[str]) -> Thread | None:
    """Where a reply to our third-party mail goes: kept for staff on its report, or held if shredded."""
    for ref in reversed(references[-20:]):  # the newest reference (In-Reply-To) first
        match = _THEIR_THREAD.fullmatch(ref.strip())
        report_of = lookup_for(match.group(1)) if match is not None else None
        if match is None or report_of is None:
            continue
        try:
            about = report_of(uuid.UUID(match.group(2)))
        except ValueError:  # the right shape, not a UUID
            continue
        if about is not None:
            live = _live(Report.objects.filter(pk=about.pk))
            if not live:
                return Thread(report=None, note=SHREDDED_THREAD)
            return Thread(report=None, for_staff_on=live[0])
    return None


def _live(query: QuerySet[Report]) -> list[Report]:
    return [r for r in query.select_related("reporter", "data_key")[:3] if not r.data_key.is_destroyed]


def _referenced(references: Sequence[str]) -> list[_Candidate]:
    found: list[_Candidate] = []
    for ref in reversed(references[-20:]):  # the newest reference (In-Reply-To) first
        match = _OUR_ID.fullmatch(ref.strip())
        if match is not None:
            kind, uid = match.groups()
            query = (
                Report.objects.filter(uid=uid)
                if kind == "report"
                else Report.objects.filter(messages__uid=uid)
            )
            found += [_Candidate(r, ours=True) for r in _live(query)]
            continue
        # The reporter's own earlier Message-IDs: often guessable, so they name but do not prove.
        digest = dedupe_digest(ref.strip(), b"")
        earlier = Report.objects.filter(received_mails__dedupe_digest=digest)
        found += [_Candidate(r, ours=False) for r in _live(earlier)]
    return found


def _named(subject: str) -> list[Report]:
    ids = TRACKING_ID_IN_TEXT.findall(subject)[:3]
    if not ids:
        return []
    found = _live(Report.objects.filter(tracking_id__in=ids))
    return sorted(found, key=lambda report: ids.index(report.tracking_id))


def settle_held_mail(*, mail: ReceivedMail, actor: ActorArg, released: bool, ip: str | None = None) -> None:
    """Staff are done with a held email: ``released`` (it is being read now) or dismissed.

    Dismissed mail stays, marked handled, so the original can still be fetched later. Released
    mail is removed and its own key shredded: call this inside the transaction that files it
    again, which keeps it under the report's key instead (and rolls this back if filing fails).
    """
    require_staff_reader(actor)
    if mail.state == MailState.ACCEPTED:
        raise ValueError("only quarantined or flooded mail is held")
    event = Event.MAIL_RELEASED if released else Event.MAIL_DISMISSED
    with transaction.atomic():
        record(event=event, actor=actor, target=mail, data={"state": mail.state, "size": mail.size}, ip=ip)
        if released:
            key = mail.data_key
            mail.delete()
            # After commit: the shred writes its ledger line at once, and a filing that fails and
            # rolls this back must leave the held mail readable, not doomed by a ledger line.
            transaction.on_commit(functools.partial(key.shred, why="mail_released"))
        else:
            ReceivedMail.objects.filter(pk=mail.pk).update(handled_at=timezone.now())
