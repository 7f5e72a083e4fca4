"""The conversation on a report, and reading a report: every opening of sealed content is audited."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

from django.core.exceptions import PermissionDenied
from django.db import transaction

from bastion.audit.events import Event
from bastion.audit.services import ActorArg, record
from bastion.lib.openpgp import OpenPGPError, load_public_key
from bastion.reports import clocks, receipts
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    Attachment,
    AuthorKind,
    Message,
    Report,
    Reporter,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import open_field, open_json, seal_field, stream_aad
from bastion.reports.services._shared import (
    IncomingFile,
    add_timeline,
    blobs_removed_on_error,
    clean_text,
    is_reporter_of,
    is_system,
    require_reporter_or_staff,
    seal_files,
    staff_reader,
)
from bastion.reports.tasks import email_staff_reply
from bastion.vault.storage import get_blob_storage
from bastion.vault.streams import iter_unsealed
from bastion.worker.queue import enqueue_on_commit

MAX_MESSAGE = 100_000


@dataclass(frozen=True)
class AttachmentMeta:
    """What is known about a file once opened: the sender's name for it and its content type."""

    attachment: Attachment
    filename: str = field(repr=False)
    content_type: str
    size: int
    sha256: str


@dataclass(frozen=True)
class OpenedMessage:
    """A message with its body opened."""

    message: Message
    body: str = field(repr=False)
    attachments: list[AttachmentMeta]


@dataclass(frozen=True)
class OpenedReporter:
    """The reporter's details, opened. Empty strings for what was not given."""

    name: str = field(repr=False)
    handle: str = field(repr=False)
    email: str = field(repr=False)
    public_key: str = field(repr=False)
    public_key_fingerprint: str = field(repr=False)
    credit_preference: str
    time_zone: str


@dataclass(frozen=True)
class OpenedReport:
    """A report with its content opened, for one reader. Plaintext is kept out of its repr.

    For the reporter, ``messages`` holds only public ones and ``attachments`` only files not tied to
    an internal note.
    """

    report: Report
    title: str = field(repr=False)
    description: str = field(repr=False)
    product: str = field(repr=False)
    version: str = field(repr=False)
    steps: str = field(repr=False)
    impact: str = field(repr=False)
    reporter: OpenedReporter
    messages: list[OpenedMessage]
    attachments: list[AttachmentMeta]


class OpenedAttachment(NamedTuple):
    """A file's meta and its plaintext, as an iterator of chunks (unpacks as ``meta, chunks``)."""

    meta: AttachmentMeta
    chunks: Iterator[bytes]


def post_message(
    *,
    report: Report,
    body: str,
    visibility: Visibility | str,
    actor: ActorArg,
    attachments: Sequence[IncomingFile] = (),
    ip: str | None = None,
) -> Message:
    """Add a message to ``report``'s conversation, sealed, with any files; the new Message.

    The reporter's messages are always public. Staff (triagers, admins) choose: a public reply,
    which the reporter is told of by mail after commit, or an internal note only staff see. Bastion
    itself (``None`` or ``Actor.system()``) may post too, e.g. an inbound mail kept for staff.
    """
    visibility = Visibility(visibility)
    author = staff_reader(actor)
    if is_reporter_of(actor, report):
        kind = AuthorKind.REPORTER
        if visibility != Visibility.PUBLIC:
            raise ReportRejected("visibility", "Your messages are always visible to the security team.")
    elif author is not None:
        kind = AuthorKind.STAFF
    elif is_system(actor):
        kind = AuthorKind.SYSTEM
    else:
        raise PermissionDenied("Only the reporter or the security team may write here.")
    text = clean_text(body, field="body", max_length=MAX_MESSAGE, required=not attachments)
    key = report.data_key_plain()
    public = visibility == Visibility.PUBLIC
    with blobs_removed_on_error() as batch, transaction.atomic():
        message = Message(report=report, author_kind=kind, author=author, visibility=visibility)
        message.body = seal_field(message, "body", text, key=key)
        message.save(force_insert=True)
        stored = seal_files(batch=batch, key=key, files=attachments, message=message)
        data = {"visibility": visibility.value, "author_kind": kind.value, "attachments": len(stored)}
        add_timeline(report, TimelineKind.MESSAGE, public=public, message=str(message.uid), **data)
        record(event=Event.MESSAGE_POSTED, actor=actor, target=message, data=data, ip=ip)
        for item in stored:
            item.attachment.report = report
            item.attachment.save(force_insert=True)
            file_data = {"message": str(message.uid), "size": item.attachment.size}
            add_timeline(report, TimelineKind.ATTACHMENT_ADDED, public=public, **file_data)
            record(event=Event.ATTACHMENT_ADDED, actor=actor, target=item.attachment, data=file_data, ip=ip)
        if kind == AuthorKind.STAFF and public:
            _note_first_response(report, message.created_at)
            if report.reporter.has_email:
                enqueue_on_commit(email_staff_reply, message.pk)
        elif kind == AuthorKind.REPORTER:
            clocks.on_reporter_message(report, at=message.created_at)
    return message


def _note_first_response(report: Report, at: datetime) -> None:
    """A reporter-visible staff reply answers the reporter: first response is met (once, for metrics)."""
    if report.first_response_at is None:
        Report.objects.filter(pk=report.pk, first_response_at__isnull=True).update(first_response_at=at)
        report.first_response_at = at
    clocks.on_staff_reply(report, at=at)


def open_report(*, report: Report, actor: ActorArg, ip: str | None = None) -> OpenedReport:
    """Decrypt ``report`` for a staff reader (everything) or its reporter (what is public).

    Every opening is an audit row (REPORT_VIEWED), written before any plaintext is returned: a
    read that cannot be audited does not happen. Anyone else gets PermissionDenied.
    """
    require_reporter_or_staff(actor, report)
    as_staff = staff_reader(actor) is not None
    with transaction.atomic():
        scope = "staff" if as_staff else "reporter"
        record(event=Event.REPORT_VIEWED, actor=actor, target=report, data={"scope": scope}, ip=ip)
        key = report.data_key_plain()
        messages = list(report.messages.select_related("author"))
        if not as_staff:
            messages = [m for m in messages if m.visibility == Visibility.PUBLIC]
        files = list(report.attachments.select_related("message"))
        if not as_staff:
            files = [a for a in files if not a.is_internal]
        metas = {a.pk: _meta(a, key) for a in files}
        opened = [
            OpenedMessage(
                message=m,
                body=open_field(m, "body", key=key) or "",
                attachments=[metas[a.pk] for a in files if a.message_id == m.pk],
            )
            for m in messages
        ]
        content = receipts.parse_content(open_field(report, "content", key=key) or "{}")
        return OpenedReport(
            report=report,
            title=open_field(report, "title", key=key) or "",
            reporter=_open_reporter(report.reporter, key),
            messages=opened,
            attachments=[metas[a.pk] for a in files if a.message_id is None],
            **content,
        )


def open_attachment(*, attachment: Attachment, actor: ActorArg, ip: str | None = None) -> OpenedAttachment:
    """A file's meta and plaintext chunks, for a staff reader or (unless internal) its reporter.

    The download is audited (ATTACHMENT_DOWNLOADED) before anything is returned. The chunks are
    authenticated one by one as they stream; a file cut short or tampered with raises SealError at
    the point of damage, so a download stops visibly rather than ending in silently wrong bytes.
    """
    report = attachment.report
    require_reporter_or_staff(actor, report)
    if staff_reader(actor) is None and attachment.is_internal:
        raise PermissionDenied("Only the security team may open this file.")
    with transaction.atomic():
        data = {"size": attachment.size}
        record(event=Event.ATTACHMENT_DOWNLOADED, actor=actor, target=attachment, data=data, ip=ip)
        key = report.data_key_plain()
        meta = _meta(attachment, key)
    return OpenedAttachment(meta=meta, chunks=_plaintext(attachment, key))


def _plaintext(attachment: Attachment, key: bytes) -> Iterator[bytes]:
    """The blob's plaintext, opened only when iteration starts, and closed when it ends."""
    with get_blob_storage().open(attachment.blob_name) as blob:
        yield from iter_unsealed(blob, key=key, aad=stream_aad(attachment, "blob"))


def _meta(attachment: Attachment, key: bytes) -> AttachmentMeta:
    values = open_json(attachment, "meta", key=key)
    return AttachmentMeta(
        attachment=attachment,
        filename=values.get("filename", "attachment"),
        content_type=values.get("content_type", "application/octet-stream"),
        size=attachment.size,
        sha256=attachment.sha256,
    )


def _open_reporter(reporter: Reporter, key: bytes) -> OpenedReporter:
    public_key = open_field(reporter, "public_key", key=key) or ""
    fingerprint = ""
    if public_key:
        try:
            fingerprint = load_public_key(public_key).fingerprint
        except OpenPGPError:  # we parsed it on the way in; a later engine might read it differently
            fingerprint = "unreadable"
    return OpenedReporter(
        name=open_field(reporter, "name", key=key) or "",
        handle=open_field(reporter, "handle", key=key) or "",
        email=open_field(reporter, "email", key=key) or "",
        public_key=public_key,
        public_key_fingerprint=fingerprint,
        credit_preference=reporter.credit_preference,
        time_zone=reporter.time_zone,
    )
