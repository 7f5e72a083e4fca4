"""Sealed uploads: no uploaded plaintext ever touches the disk, not even in a temporary file.

Django's stock handlers keep small uploads in memory and write big ones, in clear, to a
temporary file. :class:`SealedUploadHandler` replaces both (it is the only entry in
``FILE_UPLOAD_HANDLERS``): each file is sealed on the fly with :mod:`bastion.vault.streams`
(libsodium secretstream) into a temporary file in a 0700 directory under ``DATA_DIR``, under a
random key that exists only in this process's memory. :class:`SealedUploadedFile` reads the
plaintext back by unsealing, and deletes the temporary file when it is closed (Django closes every
upload at the end of the request). A file left behind by a crash is ciphertext under a key that
died with the process: unreadable, only a waste of space.

Files over ``INTAKE_MAX_ATTACHMENT_BYTES`` are cut off and skipped (``SkipFile``), not silently
truncated: the refusal is noted on the request (:func:`upload_refusals`), so the view can answer
413 naming the limit while the rest of the form (the reporter's text) still arrives intact.
"""

from __future__ import annotations

import io
import os
import secrets
import uuid
import weakref
from pathlib import Path
from typing import IO, Any, cast

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from nacl import bindings as sodium

from bastion.vault.envelope import KEY_BYTES
from bastion.vault.streams import CHUNK_SIZE, MAGIC, TAG_FINAL, TAG_MESSAGE, iter_unsealed, stream_key

_AAD_PREFIX = b"bastion.reports.upload:"
_REFUSALS_ATTRIBUTE = "_bastion_upload_refusals"


def upload_dir() -> Path:
    """The directory for sealed uploads in flight, created 0700 (only Bastion's user may list it)."""
    path = Path(settings.DATA_DIR) / "tmp" / "uploads"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)  # mkdir's mode is masked by the umask, and exist_ok keeps an older mode
    return path


def upload_refusals(request: Any) -> list[str]:
    """Why files of this request were refused (too large), as messages naming the file and limit."""
    refusals: list[str] = getattr(request, _REFUSALS_ATTRIBUTE, [])
    return refusals


def _format_bytes(size: int) -> str:
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{size} bytes"


def limit_message(filename: str, limit: int) -> str:
    """The refusal of one oversized file, naming the limit."""
    shown = "".join(ch for ch in filename if ch.isprintable())[:80] or "attachment"
    return f"The file “{shown}” is larger than the limit of {_format_bytes(limit)} per attachment."


class _PushSealer:
    """Seals bytes pushed to it into ``sink``, in vault.streams' sealed-stream format.

    SealedStream pulls from a reader; an upload handler is pushed chunks instead. Full chunks of
    CHUNK_SIZE are sealed as MESSAGE chunks only once more data has arrived behind them, so the
    last one (possibly short or empty) can carry TAG_FINAL: the same layout iter_unsealed reads.
    """

    def __init__(self, sink: io.BufferedWriter, *, key: bytes, aad: bytes) -> None:
        self._sink = sink
        self._state = sodium.crypto_secretstream_xchacha20poly1305_state()
        derived = stream_key(key, aad=aad, chunk_size=CHUNK_SIZE)
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(self._state, derived)
        sink.write(MAGIC + CHUNK_SIZE.to_bytes(4, "big") + header)
        self._pending = bytearray()

    def push(self, data: bytes) -> None:
        """Take more plaintext; seal every full chunk that is known not to be the last."""
        self._pending += data
        while len(self._pending) > CHUNK_SIZE:
            chunk = bytes(self._pending[:CHUNK_SIZE])
            del self._pending[:CHUNK_SIZE]
            self._sink.write(
                sodium.crypto_secretstream_xchacha20poly1305_push(self._state, chunk, tag=TAG_MESSAGE)
            )

    def finish(self) -> None:
        """Seal what is left as the final chunk, and flush."""
        final = bytes(self._pending)
        self._pending.clear()
        self._sink.write(sodium.crypto_secretstream_xchacha20poly1305_push(self._state, final, tag=TAG_FINAL))
        self._sink.flush()


class _UnsealingReader(io.RawIOBase):
    """The plaintext of a sealed temporary file, read by unsealing. Rewinding (seek(0)) restarts."""

    def __init__(self, path: Path, *, key: bytes, aad: bytes) -> None:
        super().__init__()
        self._path, self._key, self._aad = path, key, aad
        self._raw: io.BufferedReader | None = None
        self._restart()

    def _restart(self) -> None:
        if self._raw is not None:
            self._raw.close()
        self._raw = self._path.open("rb")
        self._plain = iter_unsealed(self._raw, key=self._key, aad=self._aad)
        self._buffer = b""
        self._position = 0

    def readable(self) -> bool:
        """Always readable."""
        return True

    def seekable(self) -> bool:
        """Seekable only back to the start (and tell()), which is what Django's File needs."""
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET, /) -> int:
        """Rewind to the start, or report the position; any other seek is unsupported."""
        if whence == io.SEEK_SET and offset == 0:
            self._restart()
            return 0
        if whence == io.SEEK_CUR and offset == 0:
            return self._position
        raise io.UnsupportedOperation("a sealed upload can only be rewound to its start")

    def tell(self) -> int:
        """Bytes of plaintext read so far."""
        return self._position

    def readinto(self, buffer: Any) -> int:
        """Fill ``buffer`` from the unsealed plaintext; 0 at the end."""
        while not self._buffer:
            try:
                self._buffer = next(self._plain)
            except StopIteration:
                return 0
        count = min(len(buffer), len(self._buffer))
        buffer[:count] = self._buffer[:count]
        self._buffer = self._buffer[count:]
        self._position += count
        return count

    def close(self) -> None:
        """Close the sealed file underneath."""
        if self._raw is not None:
            self._raw.close()
        super().close()


def _remove(path: Path) -> None:
    path.unlink(missing_ok=True)


class SealedUploadedFile(UploadedFile):
    """An upload whose bytes exist on disk only sealed; ``read()``/``chunks()`` give the plaintext.

    Deliberately no ``temporary_file_path()``: nothing may bypass the unsealing and hand the
    ciphertext path to a tool expecting plaintext. The temporary file goes on ``close()``, or
    when the object is garbage-collected, whichever comes first.
    """

    def __init__(
        self,
        *,
        path: Path,
        key: bytes,
        aad: bytes,
        name: str,
        content_type: str,
        size: int,
        charset: str | None,
        content_type_extra: dict[str, Any] | None,
    ) -> None:
        self._sealed_path = path
        self._reader = _UnsealingReader(path, key=key, aad=aad)
        # An io.RawIOBase is a binary IO in all but the stubs' eyes.
        reader = cast(IO[bytes], self._reader)
        super().__init__(reader, name, content_type, size, charset, content_type_extra)
        self._finalizer = weakref.finalize(self, _remove, path)

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> SealedUploadedFile:
        """Rewind to the start of the plaintext (the file is always open, read-only)."""
        self._reader.seek(0)
        return self

    def close(self) -> None:
        """Close the reader and delete the sealed temporary file."""
        try:
            self._reader.close()
        finally:
            self._finalizer()


def _safe_name(name: str | None) -> str:
    """A name Django's UploadedFile accepts (it raises on "", "." and ".."): the sender's name is
    only ever shown, escaped, never used as a path, so a hostile one just becomes "attachment"."""
    base = os.path.basename(name or "")
    return base if base not in {"", ".", ".."} else "attachment"


class SealedUploadHandler(FileUploadHandler):
    """Streams each uploaded file, sealed under a per-upload in-memory key, to a temporary file."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        """Start a file: a fresh random key, a fresh temporary file, and a fresh byte count."""
        super().new_file(*args, **kwargs)
        self._key = secrets.token_bytes(KEY_BYTES)
        # The AAD ties the stream to this file's random name: swapping two temp files fails to open.
        name = uuid.uuid4().hex
        self._aad = _AAD_PREFIX + name.encode()
        self._path = upload_dir() / f"{name}.sealed"
        descriptor = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._sink = io.BufferedWriter(io.FileIO(descriptor, "wb"))
        self._sealer = _PushSealer(self._sink, key=self._key, aad=self._aad)
        self._received = 0
        self._limit = int(settings.INTAKE_MAX_ATTACHMENT_BYTES)

    def receive_data_chunk(self, raw_data: bytes, start: int) -> None:
        """Seal the chunk; past the per-file limit, drop the file and note why (SkipFile)."""
        self._received += len(raw_data)
        if self._received > self._limit:
            self._discard()
            refusals = upload_refusals(self.request)
            refusals.append(limit_message(self.file_name or "", self._limit))
            setattr(self.request, _REFUSALS_ATTRIBUTE, refusals)
            raise SkipFile()
        self._sealer.push(raw_data)
        return

    def file_complete(self, file_size: int) -> SealedUploadedFile:
        """Seal the final chunk and hand back the file, readable in plaintext through unsealing."""
        self._sealer.finish()
        self._sink.close()
        return SealedUploadedFile(
            path=self._path,
            key=self._key,
            aad=self._aad,
            name=_safe_name(self.file_name),
            content_type=self.content_type or "application/octet-stream",
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )

    def upload_interrupted(self) -> None:
        """The client went away mid-file: remove the partial file."""
        if hasattr(self, "_path"):
            self._discard()

    def _discard(self) -> None:
        if not self._sink.closed:
            self._sink.close()
        _remove(self._path)
