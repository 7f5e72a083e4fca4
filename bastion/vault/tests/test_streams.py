import hashlib
import io
import os
import tempfile
import threading
import tracemalloc

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.vault.envelope import Aad, new_data_key
from bastion.vault.errors import SealError
from bastion.vault.streams import (
    ABYTES,
    HEADER_BYTES,
    MAGIC,
    SealedStream,
    iter_unsealed,
    seal_stream,
    unseal_stream,
)

KEY = new_data_key()
AAD = Aad.for_field("reports.Attachment", "content", "4c2a")
SMALL = 1024  # a small chunk size, so a few KiB make many chunks


def sealed(data: bytes, *, chunk_size: int = SMALL, key: bytes = KEY, aad: bytes = AAD) -> bytes:
    sink = io.BytesIO()
    seal_stream(io.BytesIO(data), sink, key=key, aad=aad, chunk_size=chunk_size)
    return sink.getvalue()


def opened(blob: bytes, *, key: bytes = KEY, aad: bytes = AAD) -> bytes:
    sink = io.BytesIO()
    unseal_stream(io.BytesIO(blob), sink, key=key, aad=aad)
    return sink.getvalue()


def chunks_of(blob: bytes, chunk_size: int = SMALL) -> tuple[bytes, list[bytes]]:
    step = chunk_size + ABYTES
    body = blob[HEADER_BYTES:]
    return blob[:HEADER_BYTES], [body[i : i + step] for i in range(0, len(body), step)]


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 3 * SMALL, 5 * SMALL + 7])
def test_a_stream_round_trips_at_every_boundary(size):
    data = os.urandom(size)
    sink = io.BytesIO()

    digest = seal_stream(io.BytesIO(data), sink, key=KEY, aad=AAD, chunk_size=SMALL)

    assert digest.size == size
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.sealed_size == len(sink.getvalue())
    assert sink.getvalue().startswith(MAGIC)
    back = io.BytesIO()
    assert unseal_stream(io.BytesIO(sink.getvalue()), back, key=KEY, aad=AAD) == digest
    assert back.getvalue() == data


@settings(max_examples=50)
@given(data=st.binary(max_size=5000), chunk_size=st.integers(min_value=1, max_value=2048))
def test_any_stream_round_trips_at_any_chunk_size(data, chunk_size):
    assert opened(sealed(data, chunk_size=chunk_size)) == data


def test_a_canary_never_appears_in_a_sealed_stream():
    canary = b"CANARY-attachment-91ab"

    blob = sealed(canary * 500)

    assert canary not in blob
    assert b"CANARY" not in blob


def test_a_truncated_stream_is_refused():
    blob = sealed(os.urandom(4 * SMALL + 10))
    header, chunks = chunks_of(blob)

    # Cut at a chunk boundary: every remaining chunk is authentic, only TAG_FINAL is missing.
    with pytest.raises(SealError, match="truncated"):
        opened(header + b"".join(chunks[:-1]))
    with pytest.raises(SealError):
        opened(blob[:-1])
    with pytest.raises(SealError):
        opened(header)


def test_a_truncated_header_is_refused():
    with pytest.raises(SealError, match="format"):
        opened(sealed(b"data")[: HEADER_BYTES - 1])
    with pytest.raises(SealError, match="format"):
        opened(b"")


def test_reordered_chunks_are_refused():
    header, chunks = chunks_of(sealed(os.urandom(4 * SMALL + 10)))
    chunks[1], chunks[2] = chunks[2], chunks[1]

    with pytest.raises(SealError, match="authenticate"):
        opened(header + b"".join(chunks))


def test_a_dropped_or_repeated_chunk_is_refused():
    header, chunks = chunks_of(sealed(os.urandom(4 * SMALL + 10)))

    with pytest.raises(SealError):
        opened(header + b"".join(chunks[:1] + chunks[2:]))
    with pytest.raises(SealError):
        opened(header + b"".join(chunks[:2] + chunks[1:]))


def test_data_after_the_final_chunk_is_refused():
    with pytest.raises(SealError):
        opened(sealed(b"attachment") + b"\x00")
    # When the final chunk is a full one, the extra bytes are read as a chunk of their own.
    with pytest.raises(SealError, match="after its final chunk"):
        opened(sealed(b"a" * SMALL) + b"\x00")


@pytest.mark.parametrize("position", [0, 5, HEADER_BYTES - 1, HEADER_BYTES + 3, -1])
def test_a_tampered_byte_anywhere_is_refused(position):
    blob = bytearray(sealed(os.urandom(2 * SMALL + 5)))
    blob[position] ^= 0x40

    with pytest.raises(SealError):
        opened(bytes(blob))


def test_a_header_asking_for_a_huge_chunk_is_refused_before_reading_it():
    blob = bytearray(sealed(b"data"))
    blob[len(MAGIC) : len(MAGIC) + 4] = (2**32 - 1).to_bytes(4, "big")

    with pytest.raises(SealError, match="header"):
        opened(bytes(blob))


def test_a_stream_does_not_open_under_another_aad_or_key():
    blob = sealed(b"attachment")

    with pytest.raises(SealError):
        opened(blob, aad=Aad.for_field("reports.Attachment", "content", "4c2b"))
    with pytest.raises(SealError):
        opened(blob, key=new_data_key())


def test_a_stream_from_a_field_key_does_not_open_with_aes_gcm():
    from bastion.vault.envelope import unseal

    with pytest.raises(SealError):
        unseal(sealed(b"attachment"), key=KEY, aad=AAD)


def test_a_sealed_stream_yields_chunks_lazily_and_its_digest_only_at_the_end():
    stream = SealedStream(io.BytesIO(b"a" * 3 * SMALL), key=KEY, aad=AAD, chunk_size=SMALL)
    pieces = iter(stream)

    next(pieces)
    with pytest.raises(RuntimeError, match="not been read to the end"):
        _ = stream.digest
    rest = list(pieces)

    assert len(rest) == 3
    assert stream.digest.size == 3 * SMALL
    with pytest.raises(RuntimeError, match="only once"):
        iter(stream)


def test_a_streamed_download_yields_authentic_chunks_in_order():
    data = os.urandom(2 * SMALL + 5)

    pieces = list(iter_unsealed(io.BytesIO(sealed(data)), key=KEY, aad=AAD))

    assert pieces == [data[:SMALL], data[SMALL : 2 * SMALL], data[2 * SMALL :]]


@pytest.mark.parametrize("chunk_size", [0, -1, 16 * 1024 * 1024 + 1])
def test_an_impossible_chunk_size_is_a_programming_error(chunk_size):
    with pytest.raises(ValueError, match="chunk size"):
        SealedStream(io.BytesIO(b""), key=KEY, aad=AAD, chunk_size=chunk_size)


def test_a_short_key_is_a_programming_error():
    with pytest.raises(ValueError, match="32 bytes"):
        SealedStream(io.BytesIO(b""), key=b"short", aad=AAD)


class Trickle:
    """A reader that returns at most a few bytes per read, like a slow pipe."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def read(self, size: int = -1) -> bytes:
        return self._data.read(min(size, 7) if size > 0 else size)


def test_short_reads_from_a_pipe_do_not_change_the_framing():
    data = os.urandom(3 * SMALL + 11)
    sink = io.BytesIO()
    seal_stream(Trickle(data), sink, key=KEY, aad=AAD, chunk_size=SMALL)

    assert sink.getvalue() != b""
    back = io.BytesIO()
    unseal_stream(Trickle(sink.getvalue()), back, key=KEY, aad=AAD)
    assert back.getvalue() == data


class HashingSink:
    def __init__(self) -> None:
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        return len(data)


def test_sixty_four_mib_seal_and_unseal_in_constant_memory():
    total = 64 * 1024 * 1024
    block = os.urandom(256 * 1024)
    expected = hashlib.sha256()
    for _ in range(total // len(block)):
        expected.update(block)
    read_end, write_end = os.pipe()

    def feed() -> None:
        with open(write_end, "wb", buffering=0) as pipe:
            for _ in range(total // len(block)):
                pipe.write(block)

    tracemalloc.start()
    try:
        with tempfile.TemporaryFile() as sealed_file:
            feeder = threading.Thread(target=feed)
            feeder.start()
            with open(read_end, "rb", buffering=0) as pipe:
                digest = seal_stream(pipe, sealed_file, key=KEY, aad=AAD)
            feeder.join()
            sealed_file.seek(0)
            sink = HashingSink()
            opened_digest = unseal_stream(sealed_file, sink, key=KEY, aad=AAD)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert digest.size == total
    assert digest.sha256 == expected.hexdigest()
    assert opened_digest.sha256 == expected.hexdigest()
    assert sink.size == total
    assert peak < 2 * 1024 * 1024, f"peak traced memory {peak} bytes"
