"""Sealing files as streams, in constant memory, with libsodium's secretstream.

``crypto_secretstream_xchacha20poly1305`` (through PyNaCl) is a vetted streaming AEAD: every chunk
is authenticated, chunks are chained by an internal counter (so reordering, dropping or
duplicating one fails), and the last chunk carries TAG_FINAL (so a cut-off stream is noticed).
We never invent our own chunk AEAD (DESIGN.md §2, STACK-NOTES.md "Encryption at rest").

Layout of a sealed stream::

    magic "BVS\\x01" (4) | chunk size, uint32 big-endian (4) | secretstream header (24)
    | chunk_1 || ... || chunk_n          each chunk = chunk-size plaintext bytes + 17
                                          (the last one may be shorter, even empty; TAG_FINAL)

Our only framing is that fixed chunk size, the way libsodium's own file example does it; the
size is authenticated through the key derivation below, and every tag check is libsodium's.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from nacl import bindings as sodium
from nacl.exceptions import CryptoError

from bastion.vault.envelope import KEY_BYTES
from bastion.vault.errors import SealError

MAGIC = b"BVS\x01"
CHUNK_SIZE = 64 * 1024
# The reader allocates a chunk before it can authenticate it: cap what a header may ask for.
MAX_CHUNK_SIZE = 16 * 1024 * 1024
ABYTES = sodium.crypto_secretstream_xchacha20poly1305_ABYTES
HEADER_BYTES = len(MAGIC) + 4 + sodium.crypto_secretstream_xchacha20poly1305_HEADERBYTES
TAG_MESSAGE = sodium.crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
TAG_FINAL = sodium.crypto_secretstream_xchacha20poly1305_TAG_FINAL
STREAM_INFO = b"bastion.vault.stream.v1"


class Readable(Protocol):
    """Anything with ``read(n)``: an open file, a pipe, an upload, a stored blob."""

    def read(self, size: int = ..., /) -> bytes: ...


class Writable(Protocol):
    """Anything with ``write(data)``."""

    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True)
class StreamDigest:
    """What went through: plaintext ``size`` in bytes, its hex SHA-256, and the sealed size."""

    size: int
    sha256: str
    sealed_size: int


def stream_key(key: bytes, *, aad: bytes, chunk_size: int) -> bytes:
    """The secretstream key for one file, derived from the subject's data key with HKDF-SHA256.

    Why derive rather than use the data key directly:

    - Domain separation: the data key also seals fields with AES-256-GCM, and one key must never
      serve two algorithms.
    - secretstream has no whole-stream AAD, only per-chunk additional data. Putting the AAD in the
      HKDF ``info`` binds the whole stream to it at no per-chunk cost: under another AAD the key
      differs and the very first chunk fails to open.
    - The chunk size read from the header is in ``info`` too, so altering it fails the same way.

    No per-file salt is needed: secretstream's header holds a random 192-bit nonce, so two files
    sealed under the same derived key never share a keystream.
    """
    if len(key) != KEY_BYTES:
        raise ValueError(f"keys are {KEY_BYTES} bytes, got {len(key)}")
    info = STREAM_INFO + chunk_size.to_bytes(4, "big") + aad
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=info).derive(key)


def _read_exact(source: Readable, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at end of input (pipes and sockets return short reads)."""
    data = source.read(size)
    if len(data) == size or not data:
        return bytes(data)
    parts = [data]
    missing = size - len(data)
    while missing:
        more = source.read(missing)
        if not more:
            break
        parts.append(more)
        missing -= len(more)
    return b"".join(parts)


def _check_chunk_size(chunk_size: int) -> None:
    """ValueError for a chunk size the reader would refuse (a programming error)."""
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise ValueError(f"chunk size must be 1 to {MAX_CHUNK_SIZE} bytes, got {chunk_size}")


class SealedStream:
    """The sealed form of ``source`` as an iterable of byte chunks, produced lazily.

    Feed it to :meth:`BlobStorage.write` (or any sink); once fully iterated, :attr:`digest` gives
    the plaintext size and SHA-256, computed on the way through. At most two plaintext chunks are
    held at a time (one read ahead, to know which chunk is the last), whatever the file's size.
    """

    def __init__(self, source: Readable, *, key: bytes, aad: bytes, chunk_size: int = CHUNK_SIZE) -> None:
        _check_chunk_size(chunk_size)
        self._source = source
        self._chunk_size = chunk_size
        self._key = stream_key(key, aad=aad, chunk_size=chunk_size)
        self._digest: StreamDigest | None = None
        self._started = False

    @property
    def digest(self) -> StreamDigest:
        """Plaintext size and SHA-256; only once the stream has been read to the end."""
        if self._digest is None:
            raise RuntimeError("the stream has not been read to the end yet")
        return self._digest

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise RuntimeError("a SealedStream can be read only once")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        """The header, then each sealed chunk; the last one tagged TAG_FINAL."""
        state = sodium.crypto_secretstream_xchacha20poly1305_state()
        # init_push draws the header's random nonce from libsodium's CSPRNG.
        header = sodium.crypto_secretstream_xchacha20poly1305_init_push(state, self._key)
        yield MAGIC + self._chunk_size.to_bytes(4, "big") + header
        hasher = hashlib.sha256()
        size, sealed_size = 0, HEADER_BYTES
        chunk = _read_exact(self._source, self._chunk_size)
        while True:
            # Read ahead: only a short chunk, or a full one followed by end of input, is the last.
            following = _read_exact(self._source, self._chunk_size) if len(chunk) == self._chunk_size else b""
            final = not following
            hasher.update(chunk)
            size += len(chunk)
            sealed = sodium.crypto_secretstream_xchacha20poly1305_push(
                state, chunk, tag=TAG_FINAL if final else TAG_MESSAGE
            )
            sealed_size += len(sealed)
            yield sealed
            if final:
                break
            chunk = following
        self._digest = StreamDigest(size=size, sha256=hasher.hexdigest(), sealed_size=sealed_size)


def iter_unsealed(source: Readable, *, key: bytes, aad: bytes) -> Iterator[bytes]:
    """Yield the plaintext of a sealed stream chunk by chunk; :class:`SealError` on any fault.

    Every chunk is authenticated before it is yielded, but truncation can only be known at the
    end: a consumer that must be all-or-nothing (a restore, say) should write to a temporary file
    and use it only once this generator has finished without raising. A download may stream, as
    a cut-off transfer is then visibly incomplete.
    """
    head = _read_exact(source, HEADER_BYTES)
    if len(head) != HEADER_BYTES or head[: len(MAGIC)] != MAGIC:
        raise SealError("not a sealed stream of a known format")
    chunk_size = int.from_bytes(head[len(MAGIC) : len(MAGIC) + 4], "big")
    if not 0 < chunk_size <= MAX_CHUNK_SIZE:
        raise SealError("sealed stream header is damaged")
    state = sodium.crypto_secretstream_xchacha20poly1305_state()
    sodium.crypto_secretstream_xchacha20poly1305_init_pull(
        state, head[len(MAGIC) + 4 :], stream_key(key, aad=aad, chunk_size=chunk_size)
    )
    while True:
        block = _read_exact(source, chunk_size + ABYTES)
        if len(block) < ABYTES:
            raise SealError("sealed stream is truncated (its final chunk is missing)")
        try:
            plain, tag = sodium.crypto_secretstream_xchacha20poly1305_pull(state, block)
        except CryptoError:
            raise SealError(
                "sealed stream did not authenticate (tampered, reordered, wrong key or AAD)"
            ) from None
        if tag == TAG_FINAL:
            if source.read(1):
                raise SealError("sealed stream has data after its final chunk")
            yield plain
            return
        if tag != TAG_MESSAGE or len(block) != chunk_size + ABYTES:
            # We only ever write full MESSAGE chunks before the FINAL one.
            raise SealError("sealed stream has an unexpected chunk")
        yield plain


def seal_stream(
    source: Readable, sink: Writable, *, key: bytes, aad: bytes, chunk_size: int = CHUNK_SIZE
) -> StreamDigest:
    """Seal everything readable from ``source`` into ``sink``; the plaintext's size and SHA-256."""
    sealed = SealedStream(source, key=key, aad=aad, chunk_size=chunk_size)
    for piece in sealed:
        sink.write(piece)
    return sealed.digest


def unseal_stream(source: Readable, sink: Writable, *, key: bytes, aad: bytes) -> StreamDigest:
    """Open a sealed stream from ``source`` into ``sink``; :class:`SealError` if it won't.

    On error, ``sink`` may already hold a prefix of authentic plaintext: discard it (see
    :func:`iter_unsealed`).
    """
    hasher = hashlib.sha256()
    size = 0
    counter = _CountingReader(source)
    for plain in iter_unsealed(counter, key=key, aad=aad):
        hasher.update(plain)
        size += len(plain)
        sink.write(plain)
    return StreamDigest(size=size, sha256=hasher.hexdigest(), sealed_size=counter.count)


class _CountingReader:
    """Wraps a reader and counts the bytes it hands out."""

    def __init__(self, source: Readable) -> None:
        self._source = source
        self.count = 0

    def read(self, size: int = -1, /) -> bytes:
        """Read from the wrapped source, counting."""
        data = self._source.read(size)
        self.count += len(data)
        return data
