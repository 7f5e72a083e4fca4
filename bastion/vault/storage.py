"""Where sealed blobs (attachments, raw emails) are kept: a small Protocol and a filesystem default.

Storage only ever sees ciphertext (a :class:`~bastion.vault.streams.SealedStream`) and random
names from :func:`new_blob_name`: never a user's file name, which could carry path tricks or be
sensitive in itself. An S3-compatible backend implements the same four methods.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable

from django.conf import settings

from bastion.vault._files import create_private_file, fsync_dir, private_dir
from bastion.vault._pluggable import from_setting

DEFAULT_STORAGE = "bastion.vault.storage.FileSystemBlobStorage"
COPY_CHUNK = 64 * 1024
# 128 random bits in hex: unguessable, and the strict pattern below rules out any path trick.
BLOB_NAME = re.compile(r"^[0-9a-f]{32}$")


def new_blob_name() -> str:
    """A fresh random blob name (128 bits from the OS CSPRNG, as 32 hex digits)."""
    return secrets.token_hex(16)


def check_blob_name(name: str) -> str:
    """``name`` if it is a blob name we could have made; ValueError otherwise."""
    if not BLOB_NAME.fullmatch(name):
        raise ValueError("blob names are 32 lower-case hex digits from new_blob_name()")
    return name


@runtime_checkable
class BlobStorage(Protocol):
    """A flat namespace of immutable blobs."""

    def write(self, name: str, data: Iterable[bytes] | BinaryIO) -> int:
        """Store ``data`` (chunks or a readable file) whole under ``name``; the bytes written.

        All or nothing: once it returns the blob is durable, and if it raises there is no blob.
        """
        ...

    def open(self, name: str) -> BinaryIO:
        """The blob, for reading; ``FileNotFoundError`` if there is none."""
        ...

    def delete(self, name: str) -> None:
        """Remove the blob; no error if it is already gone (deletes are retried)."""
        ...

    def exists(self, name: str) -> bool:
        """Whether a blob of that name is stored."""
        ...


def _chunks_of(data: Iterable[bytes] | BinaryIO) -> Iterable[bytes]:
    """``data`` as chunks of bytes.

    A binary file iterates by *lines*, which may be any length: read it in fixed chunks instead.
    """
    read = getattr(data, "read", None)
    if read is not None:
        return iter(lambda: read(COPY_CHUNK), b"")
    return data


class FileSystemBlobStorage:
    """Blobs as files ``<root>/<first two hex digits>/<name>``: files 0600, directories 0700.

    The two-digit fan-out keeps directories small (256 of them) as the count grows.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls) -> FileSystemBlobStorage:
        """Rooted at ``VAULT_BLOB_DIR``, by default ``FILES_DIR``."""
        return cls(Path(settings.VAULT_BLOB_DIR))

    def path(self, name: str) -> Path:
        """Where the blob ``name`` lives (whether or not it exists)."""
        check_blob_name(name)
        return self.root / name[:2] / name

    def write(self, name: str, data: Iterable[bytes] | BinaryIO) -> int:
        """Atomic: write a private temp file beside the target, fsync, rename, fsync the directory.

        A crash leaves either no blob or the whole blob, never a torn one, and the blob is on disk
        before the report that points at it is committed and acknowledged.
        """
        target = self.path(name)
        directory = private_dir(target.parent)
        private_dir(self.root)
        temp = directory / f".{name}.{secrets.token_hex(8)}.tmp"
        fd = create_private_file(temp)
        written = 0
        try:
            with os.fdopen(fd, "wb") as handle:
                for chunk in _chunks_of(data):
                    handle.write(chunk)
                    written += len(chunk)
                handle.flush()
                os.fsync(handle.fileno())
            # Blob names are random per write, so replacing only happens when a retried write
            # stores the same blob again; replace keeps that retry idempotent.
            os.replace(temp, target)
        except BaseException:
            temp.unlink(missing_ok=True)
            raise
        fsync_dir(directory)
        return written

    def open(self, name: str) -> BinaryIO:
        """The blob as a read-only binary file (the caller closes it)."""
        # O_NOFOLLOW: a symlink planted in the store is refused rather than followed.
        fd = os.open(self.path(name), os.O_RDONLY | os.O_NOFOLLOW)
        return os.fdopen(fd, "rb")

    def delete(self, name: str) -> None:
        """Unlink the blob if present. (Deleting ciphertext is tidying; shredding the key is what
        makes content unreadable, including in backups.)"""
        path = self.path(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(path.parent)

    def exists(self, name: str) -> bool:
        """Whether the blob file is there."""
        return self.path(name).is_file()


def get_blob_storage() -> BlobStorage:
    """The storage named by ``VAULT_BLOB_STORAGE`` (a dotted path to a class with ``from_settings``)."""
    made: BlobStorage = from_setting("VAULT_BLOB_STORAGE", BlobStorage)
    return made
