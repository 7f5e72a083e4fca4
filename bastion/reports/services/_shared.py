"""What the reports services share: who the actor is, sealed file storage, the timeline, text rules."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import PermissionDenied

from bastion.accounts.models import User
from bastion.accounts.permissions import is_triager
from bastion.audit.events import ActorKind
from bastion.audit.services import Actor, ActorArg
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Attachment, Message, Report, TimelineEntry, TimelineKind
from bastion.reports.sealing import seal_json, stream_aad
from bastion.vault.storage import BlobStorage, get_blob_storage, new_blob_name
from bastion.vault.streams import Readable, SealedStream

MAX_FILENAME = 255
MAX_CONTENT_TYPE = 127
_CONTENT_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")
DEFAULT_CONTENT_TYPE = "application/octet-stream"


@dataclass(frozen=True)
class IncomingFile:
    """A file as it arrives: the sender's file name and content type, and a binary stream to read.

    The stream is read once, in chunks (constant memory). Size limits are the caller's: intake
    knows which channel allows how much.
    """

    filename: str = field(repr=False)
    content_type: str
    stream: Readable = field(repr=False)


# --- Actors ---------------------------------------------------------------------------------------


def reporter_actor(report: Report) -> Actor:
    """The audit actor for the reporter of ``report`` (who holds its portal link or sent its mail).

    ``id`` is the report's id, so a service can check that a reporter acts on their own report only.
    """
    return Actor(kind=ActorKind.REPORTER, label=f"reporter of {report.tracking_id}", id=report.pk)


def is_reporter_of(actor: ActorArg, report: Report) -> bool:
    """Whether ``actor`` is the reporter of ``report`` (see :func:`reporter_actor`)."""
    return isinstance(actor, Actor) and actor.kind == ActorKind.REPORTER and actor.id == report.pk


def is_system(actor: ActorArg) -> bool:
    """Whether ``actor`` is Bastion itself (``None`` or ``Actor.system()``)."""
    return actor is None or (isinstance(actor, Actor) and actor.kind == ActorKind.SYSTEM)


def staff_reader(actor: ActorArg) -> User | None:
    """``actor`` if it is a staff member allowed to read and work reports (triagers, admins).

    Viewers are not: what a viewer may see (and charlie's team, nothing of alice's embargoes) comes
    with triage's grants. Until then, refusing is the safe default.
    """
    if isinstance(actor, User) and is_triager(actor):
        return actor
    return None


def require_staff_reader(actor: ActorArg) -> User:
    """``actor`` as a staff reader, or PermissionDenied."""
    user = staff_reader(actor)
    if user is None:
        raise PermissionDenied("Only triagers and admins may do this.")
    return user


def require_reporter_or_staff(actor: ActorArg, report: Report) -> None:
    """PermissionDenied unless ``actor`` is this report's reporter or a staff reader."""
    if not is_reporter_of(actor, report) and staff_reader(actor) is None:
        raise PermissionDenied("Only the reporter or the security team may do this.")


# --- Text -----------------------------------------------------------------------------------------


def clean_text(
    value: str, *, field: str, max_length: int, required: bool = False, one_line: bool = False
) -> str:
    """``value`` with line endings normalised to LF and surrounding whitespace stripped.

    One-line fields also have runs of whitespace (newlines included) collapsed to one space. The
    stored form is what the receipt hashes, so these rules are part of the receipt format.
    """
    if not isinstance(value, str):
        raise ReportRejected(field, "This must be text.", code="invalid")
    text = value.replace("\r\n", "\n").replace("\r", "\n")
    text = " ".join(text.split()) if one_line else text.strip()
    if "\x00" in text:
        raise ReportRejected(field, "This contains a NUL character; remove it and try again.", code="nul")
    if required and not text:
        raise ReportRejected(field, "This field is required.", code="required")
    if len(text) > max_length:
        raise ReportRejected(
            field, f"This is {len(text):,} characters long; the limit is {max_length:,}.", code="too_long"
        )
    return text


def clean_file(incoming: IncomingFile, *, field: str = "attachments") -> tuple[str, str]:
    """The file name and content type to keep (sealed) for ``incoming``.

    The name is kept as sent (it is only ever shown, escaped, never used as a path), after dropping
    control characters; the content type is kept only if it is a well-formed ``type/subtype``.
    """
    name = "".join(ch for ch in incoming.filename or "" if ch.isprintable()).strip() or "attachment"
    if len(name) > MAX_FILENAME:
        raise ReportRejected(field, f"A file name is over {MAX_FILENAME} characters; rename it.", code="name")
    content_type = (incoming.content_type or "").split(";")[0].strip().lower()
    if len(content_type) > MAX_CONTENT_TYPE or not _CONTENT_TYPE.fullmatch(content_type):
        content_type = DEFAULT_CONTENT_TYPE
    return name, content_type


# --- Sealed files ---------------------------------------------------------------------------------


@dataclass
class BlobBatch:
    """The blob storage, and the names of the blobs written through it so far in one service call."""

    storage: BlobStorage = field(default_factory=get_blob_storage)
    written: list[str] = field(default_factory=list)


@contextmanager
def blobs_removed_on_error() -> Iterator[BlobBatch]:
    """Collect the blobs written in the block; if the block raises, delete them.

    Blobs are written (and fsynced) before the transaction that points at them commits, so a
    committed row never points at a missing file. If the transaction rolls back instead, its blobs
    are deleted here. Should the process die in between (or an outer transaction of the caller's
    roll back later), the orphan is ciphertext whose data key was never committed: unreadable by
    anyone, only a waste of space.
    """
    batch = BlobBatch()
    try:
        yield batch
    except BaseException:
        for name in batch.written:
            batch.storage.delete(name)
        raise


@dataclass(frozen=True)
class StoredFile:
    """A file just sealed into storage: its unsaved Attachment row, and the meta sealed in it."""

    attachment: Attachment
    meta: dict[str, str] = field(repr=False)


def seal_files(
    *, batch: BlobBatch, key: bytes, files: Sequence[IncomingFile], message: Message | None = None
) -> list[StoredFile]:
    """Stream each file, sealed, into blob storage; the unsaved Attachment rows describing them.

    The caller sets ``report`` on the rows and saves them: a submission needs the files' hashes
    before it can save its report. Each blob is bound by AAD to its attachment's ``uid``, so a blob
    swapped for another report's or another file's does not open. Memory stays flat: the stream is
    read, sealed and written chunk by chunk, and hashed on the way through.
    """
    rows = []
    for incoming in files:
        filename, content_type = clean_file(incoming)
        attachment = Attachment(uid=uuid.uuid4(), blob_name=new_blob_name(), message=message)
        sealed = SealedStream(incoming.stream, key=key, aad=stream_aad(attachment, "blob"))
        # Noted before writing: a write that fails half-way leaves no blob, and deleting a missing
        # blob is a no-op, so the cleanup is right either way.
        batch.written.append(attachment.blob_name)
        batch.storage.write(attachment.blob_name, sealed)
        attachment.size = sealed.digest.size
        attachment.sha256 = sealed.digest.sha256
        meta = {"filename": filename, "content_type": content_type}
        attachment.meta = seal_json(attachment, "meta", meta, key=key)
        rows.append(StoredFile(attachment=attachment, meta=meta))
    return rows


def add_timeline(report: Report, kind: TimelineKind, *, public: bool, **data: Any) -> TimelineEntry:
    """Append an entry to ``report``'s timeline. ``data`` holds states and ids only, never content."""
    return TimelineEntry.objects.create(report=report, kind=kind, public=public, data=data)
