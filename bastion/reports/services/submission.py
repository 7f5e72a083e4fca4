"""Receiving a report: validate, seal, store, sign a receipt, and acknowledge after commit."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from bastion.accounts.models import validate_time_zone
from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.lib import lean
from bastion.lib.openpgp import KeyRejected, PublicKey, SecretKey, parse_public_key
from bastion.reports import clocks, identifiers, receipts
from bastion.reports.errors import IdempotencyConflict, ReportRejected
from bastion.reports.models import (
    Attachment,
    Channel,
    Clock,
    CreditPreference,
    Program,
    Receipt,
    Report,
    Reporter,
    TimelineEntry,
    TimelineKind,
)
from bastion.reports.sealing import seal_field
from bastion.reports.services._shared import (
    BlobBatch,
    IncomingFile,
    StoredFile,
    blobs_removed_on_error,
    clean_text,
    seal_files,
)
from bastion.reports.services.casework import auto_assign
from bastion.reports.services.portal import portal_url as link_to_portal
from bastion.reports.tasks import email_acknowledgement
from bastion.vault.models import DataKey
from bastion.vault.orgkey import get_org_key
from bastion.vault.services import prepare_data_key
from bastion.worker.queue import enqueue_on_commit

SHORT_TEXT = 200
LONG_TEXT = 100_000
MAX_EMAIL = 254
MAX_IDEMPOTENCY_KEY = 200


@dataclass(frozen=True, kw_only=True)
class Submission:
    """What a reporter sends, whatever the channel. Only ``title`` and ``description`` are required.

    ``description``, ``steps`` and ``impact`` are Markdown. ``public_key`` is an ASCII-armored
    OpenPGP key; with it, every mail to the reporter is encrypted. ``credit_preference`` "name" or
    "handle" needs that field filled in. Plaintext never appears in this object's repr.
    """

    title: str = field(repr=False)
    description: str = field(repr=False)
    product: str = field(default="", repr=False)
    version: str = field(default="", repr=False)
    steps: str = field(default="", repr=False)
    impact: str = field(default="", repr=False)
    reporter_name: str = field(default="", repr=False)
    reporter_handle: str = field(default="", repr=False)
    email: str = field(default="", repr=False)
    public_key: str = field(default="", repr=False)
    credit_preference: str = CreditPreference.ANONYMOUS
    time_zone: str = "UTC"


@dataclass(frozen=True)
class SubmitResult:
    """The report (new, or the earlier one for a retried request), and what to tell the reporter."""

    report: Report
    created: bool
    receipt: Receipt

    @property
    def portal_url(self) -> str:
        """The reporter's bearer link (derived when asked: the mail path never needs it)."""
        return link_to_portal(self.report)


@dataclass(frozen=True)
class _Clean:
    """A validated submission: normalised text, and the parsed key."""

    text: dict[str, str] = field(repr=False)
    reporter: dict[str, str] = field(repr=False)
    key: PublicKey | None
    credit_preference: CreditPreference
    time_zone: str


class _Replay(Exception):
    """Raised inside the transaction, to roll it back, when the idempotency key was seen before."""

    def __init__(self, report: Report, *, same_request: bool) -> None:
        self.report = report
        self.same_request = same_request


def clean_public_key(value: str, *, field_name: str = "public_key") -> PublicKey | None:
    """The parsed key, None for an empty value, or ReportRejected naming ``field_name``."""
    if not value.strip():
        return None
    try:
        return parse_public_key(value)
    except KeyRejected as exc:
        # The lib's messages are written for reporters; the reason code is stable for the API.
        raise ReportRejected(field_name, str(exc), code=exc.reason or "key_rejected") from None


def clean_credit(value: str, *, has_name: bool, has_handle: bool) -> CreditPreference:
    """The credit preference, checked against what the reporter gave to be credited with."""
    try:
        credit = CreditPreference(value)
    except ValueError:
        choices = ", ".join(CreditPreference.values)
        raise ReportRejected("credit_preference", f"Choose one of: {choices}.", code="invalid") from None
    if credit == CreditPreference.NAME and not has_name:
        raise ReportRejected("credit_preference", "To be credited by name, give your name.", code="no_name")
    if credit == CreditPreference.HANDLE and not has_handle:
        raise ReportRejected("credit_preference", "To be credited by handle, give it.", code="no_handle")
    return credit


def clean_time_zone(value: str) -> str:
    """An IANA zone name (``Europe/Paris``), or ReportRejected."""
    try:
        validate_time_zone(value)
    except ValidationError:
        raise ReportRejected(
            "time_zone", "Choose a time zone such as Europe/Paris.", code="invalid"
        ) from None
    return value


def _validate(submission: Submission) -> _Clean:
    long_fields = ("description", "steps", "impact")
    text = {
        name: clean_text(
            getattr(submission, name),
            field=name,
            max_length=LONG_TEXT if name in long_fields else SHORT_TEXT,
            required=name in ("title", "description"),
            one_line=name not in long_fields,
        )
        for name in ("title", "description", "product", "version", "steps", "impact")
    }
    name = clean_text(submission.reporter_name, field="reporter_name", max_length=SHORT_TEXT, one_line=True)
    handle = clean_text(
        submission.reporter_handle, field="reporter_handle", max_length=SHORT_TEXT, one_line=True
    )
    email = clean_text(submission.email, field="email", max_length=MAX_EMAIL, one_line=True)
    if email:
        try:
            validate_email(email)
        except ValidationError:
            raise ReportRejected("email", "Enter a valid email address, or leave it empty.") from None
    return _Clean(
        text=text,
        reporter={"name": name, "handle": handle, "email": email},
        key=clean_public_key(submission.public_key),
        credit_preference=clean_credit(
            submission.credit_preference, has_name=bool(name), has_handle=bool(handle)
        ),
        time_zone=clean_time_zone(submission.time_zone),
    )


def _request_digests(clean: _Clean, channel: str, files: list[StoredFile]) -> list[str]:
    """Keyed digests of everything the client sent, to tell a retry from a different request.

    The first is under the current secret key and is what is stored; the others, under retired
    keys, still recognise a retry that straddles a secret-key rotation.
    """
    request = {
        "channel": channel,
        "credit_preference": clean.credit_preference.value,
        "files": [{**f.meta, "sha256": f.attachment.sha256, "size": f.attachment.size} for f in files],
        "key": clean.key.fingerprint if clean.key else "",
        "reporter": clean.reporter,
        "text": clean.text,
        "time_zone": clean.time_zone,
    }
    data = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return identifiers.request_digests(data)


def submit_report(
    *,
    submission: Submission,
    attachments: Sequence[IncomingFile] = (),
    channel: Channel | str,
    policy_version: int,
    actor: ActorArg,
    ip: str | None = None,
    idempotency_key: str | None = None,
    acknowledge: bool = True,
    on_stored: Callable[[Report], object] | None = None,
    org_key: SecretKey | None = None,
) -> SubmitResult:
    """Receive a report: sealed and signed, then stored and audited in one transaction; acknowledged after.

    Raises ReportRejected (naming the field; nothing is saved), or IdempotencyConflict when
    ``idempotency_key`` was used before with a different request. The same request sent again with
    the same key returns the first report with ``created=False`` and changes nothing. The reporter
    is acknowledged by mail (when an address was given) from a task enqueued on commit, unless
    ``acknowledge`` is False (mail that must get no automatic reply, RFC 3834). ``on_stored(report)``
    runs inside the transaction, after the report's rows, for what must commit with it (the email
    a report came from); it is not called for a replayed request. ``org_key`` is the active org key
    when the caller holds it already (the email path read the mail with it); else it is fetched.

    The files are sealed and written, fsynced, before the transaction (sealing, writing and fsyncing
    measured 5-6 ms per MiB here, which SQLite's write lock need not wait for), and so before the
    commit that makes the report exist: an acknowledged report never lacks a file.
    """
    channel = Channel(channel)
    if policy_version < 0:
        raise ValueError("policy_version must not be negative")
    key_digest = None
    if idempotency_key is not None:
        if not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY or not idempotency_key.isprintable():
            message = f"Use 1 to {MAX_IDEMPOTENCY_KEY} printable characters."
            raise ReportRejected("idempotency_key", message, code="invalid")
        key_digest = identifiers.idempotency_digest(channel, idempotency_key)
    clean = _validate(submission)
    # Before the transaction: generating the org key the first time takes a while, and under
    # SQLite's IMMEDIATE transactions an open one holds the database's only write lock.
    org_key = org_key or get_org_key()
    draft = _Draft(
        clean=clean,
        channel=channel,
        policy_version=policy_version,
        key_digest=key_digest,
        org_key=org_key,
        acknowledge=acknowledge,
        on_stored=on_stored,
    )
    try:
        # The blob cleanup wraps both steps: a rollback (a replay included) deletes the files.
        with blobs_removed_on_error() as batch:
            # Everything that needs no database (the data key, sealing, streaming the files, signing
            # the receipt) happens before the transaction: under SQLite's IMMEDIATE mode an open
            # transaction holds the only write lock, which every other submission waits for.
            sealed = draft.seal(files=attachments, batch=batch)
            with transaction.atomic():
                report = draft.store(sealed, actor=actor, ip=ip)
    except _Replay as replay:
        if not replay.same_request:
            raise IdempotencyConflict() from None
        report = replay.report
        return SubmitResult(report=report, created=False, receipt=report.receipt)
    return SubmitResult(report=report, created=True, receipt=report.receipt)


@dataclass(frozen=True)
class _Sealed:
    """A submission sealed and signed, its rows built but not saved."""

    data_key: DataKey
    reporter: Reporter
    report: Report
    attachments: list[Attachment]
    receipt: Receipt
    request_digests: list[str]
    program: Program
    clocks: list[Clock]


@dataclass
class _Draft:
    """One submission on its way into the database."""

    clean: _Clean
    channel: Channel
    policy_version: int
    key_digest: str | None
    org_key: SecretKey = field(repr=False)
    acknowledge: bool = True
    on_stored: Callable[[Report], object] | None = None

    def seal(self, *, files: Sequence[IncomingFile], batch: BlobBatch) -> _Sealed:
        """Seal the fields and files under a new data key and sign the receipt; no row is saved.

        The files are written to storage (``batch`` deletes them if the submission fails after).
        """
        clean = self.clean
        uid = uuid.uuid4()
        data_key, key = prepare_data_key(subject=f"report:{uid}")
        reporter = self._reporter(key)
        stored = seal_files(batch=batch, key=key, files=files)
        rows = [item.attachment for item in stored]
        request_digests = _request_digests(clean, self.channel, stored)
        digests = [receipts.FileDigest(sha256=row.sha256, size=row.size) for row in rows]
        canonical = receipts.canonical_submission(**clean.text, attachments=digests)
        report = Report(
            uid=uid,
            # A read, not under the write lock; the unique index is the backstop for a 2^-50 race.
            tracking_id=_unused_tracking_id(),
            channel=self.channel,
            data_key=data_key,
            reporter=reporter,
            policy_version=self.policy_version,
            received_at=timezone.now(),
            submission_sha256=receipts.sha256_hex(canonical),
            idempotency_key_digest=self.key_digest,
            request_digest=request_digests[0],
        )
        report.title = seal_field(report, "title", clean.text["title"], key=key)
        content = receipts.content_json(**{k: v for k, v in clean.text.items() if k != "title"})
        report.content = seal_field(report, "content", content, key=key)
        statement = receipts.receipt_statement(
            tracking_id=report.tracking_id,
            received_at=report.received_at,
            policy_version=report.policy_version,
            channel=report.channel,
            submission_sha256=report.submission_sha256,
            attachments=digests,
        )
        signed = receipts.sign_statement(statement, org_key=self.org_key)
        receipt = Receipt(statement=signed.text, org_key_fingerprint=signed.fingerprint)
        # Read and built here, not under the write lock: the terms and the first clocks.
        program = clocks.program_for(report)
        opening = clocks.opening_clocks(report, at=report.received_at, program=program)
        return _Sealed(
            program=program,
            clocks=opening,
            data_key=data_key,
            reporter=reporter,
            report=report,
            attachments=rows,
            receipt=receipt,
            request_digests=request_digests,
        )

    def store(self, sealed: _Sealed, *, actor: ActorArg, ip: str | None) -> Report:
        """Save every row of the sealed submission; call inside a transaction.

        The rows go in by ``lib.lean.insert``: under the write lock, the ORM's building of ten
        INSERTs cost more than SQLite's running them (measured, benchmarks/README.md).
        """
        self._check_replay(sealed.request_digests)
        lean.insert(sealed.data_key, sealed.reporter)
        report = sealed.report
        self._save(report, sealed.request_digests)
        for row in sealed.attachments:
            row.report = report
        sealed.receipt.report = report
        attachments = len(sealed.attachments)
        submitted = TimelineEntry(
            report=report,
            kind=TimelineKind.SUBMITTED,
            public=True,
            data={"channel": self.channel.value, "attachments": attachments},
        )
        lean.insert(*sealed.attachments, sealed.receipt, submitted, *sealed.clocks)
        reporter = sealed.reporter
        data = {
            "tracking_id": report.tracking_id,
            "channel": self.channel.value,
            "policy_version": self.policy_version,
            "attachments": attachments,
            "has_email": reporter.has_email,
            "has_public_key": reporter.has_public_key,
        }
        record(event=Event.REPORT_SUBMITTED, actor=actor, target=report, data=data, ip=ip)
        auto_assign(report, program=sealed.program)
        if self.on_stored is not None:
            self.on_stored(report)
        if reporter.has_email and self.acknowledge:
            enqueue_on_commit(email_acknowledgement, report.pk)
        return report

    def _reporter(self, key: bytes) -> Reporter:
        clean = self.clean
        reporter = Reporter(
            uid=uuid.uuid4(), credit_preference=clean.credit_preference, time_zone=clean.time_zone
        )
        for name in ("name", "handle", "email"):
            setattr(reporter, name, seal_field(reporter, name, clean.reporter[name] or None, key=key))
        if clean.reporter["email"]:
            reporter.email_digest = identifiers.email_digest(clean.reporter["email"])
        if clean.key is not None:
            reporter.public_key = seal_field(reporter, "public_key", clean.key.armored_public(), key=key)
        return reporter

    def _check_replay(self, request_digests: list[str]) -> None:
        if self.key_digest is None:
            return
        earlier = Report.objects.filter(idempotency_key_digest=self.key_digest).first()
        if earlier is not None:
            raise _Replay(earlier, same_request=earlier.request_digest in request_digests)

    def _save(self, report: Report, request_digests: list[str]) -> None:
        if self.key_digest is None:
            # No idempotency key, so no race to recover from: the savepoint below would be two more
            # statements under the write lock for nothing (a tracking-ID clash, 2^-50, just fails).
            lean.insert(report)
            return
        try:
            # A savepoint, so the transaction survives a unique-index clash and can look again.
            with transaction.atomic():
                lean.insert(report)
        except IntegrityError:
            # Race: the same idempotency key in two requests at once. The index let the other one
            # through; it is committed now (PostgreSQL made this insert wait for it), so answer
            # like a retry. SQLite's IMMEDIATE transactions serialise them before we get here.
            self._check_replay(request_digests)
            raise


def _unused_tracking_id() -> str:
    """A fresh tracking ID no report has (50 random bits: a clash is rare, but cheap to rule out)."""
    while True:
        candidate = identifiers.new_tracking_id()
        if not lean.exists(Report, tracking_id=candidate):
            return candidate
