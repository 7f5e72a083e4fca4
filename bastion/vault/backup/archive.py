"""The backup archive: a plain POSIX tar, encrypted by gpg, so ``gpg --decrypt A | tar -x`` restores it.

Members, in this order::

    ARCHIVE.json                   format, creation time, Bastion version, database engine
    database/bastion.sqlite3       the snapshot (or database/bastion.pgdump, pg_dump's custom format)
    files/<2 hex>/<32 hex>         every sealed blob, byte for byte (ciphertext already)
    MANIFEST.json                  ARCHIVE.json's fields, the caller's facts, every member's size + SHA-256

ARCHIVE.json comes first so a reader refuses a newer format before extracting anything; the
manifest comes last because only then are the hashes known, and its absence marks a truncated
archive. The tar is written and read here rather than by :mod:`tarfile`'s stream mode, which copies
its whole buffer for every small read or write and remembers every member: with 100,000 blobs that
is quadratic time and unbounded memory. Headers still come from :class:`tarfile.TarInfo`.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import IO, Any, BinaryIO, Protocol, cast

from bastion.vault._files import Writeback, create_private_file, ensure_dir, fsync_dir
from bastion.vault.backup.errors import (
    BackupError,
    CorruptArchive,
    GpgMissing,
    NewerArchive,
    NotAnArchive,
    WrongBackupKey,
)
from bastion.vault.backup.gpg import (
    GpgStream,
    check_encrypted,
    decryption_failure,
    gpg_home,
    import_secret_keys,
    start_decrypt,
    start_encrypt,
)
from bastion.vault.backup.snapshot import MEMBERS, Snapshot

__all__ = [
    "ARCHIVE_FORMAT",
    "BackupError",
    "CorruptArchive",
    "GpgMissing",
    "Manifest",
    "NewerArchive",
    "NotAnArchive",
    "WrittenArchive",
    "WrongBackupKey",
    "read_archive",
    "write_archive",
]

ARCHIVE_FORMAT = 1
ARCHIVE_JSON, MANIFEST_JSON = "ARCHIVE.json", "MANIFEST.json"
COPY_CHUNK = 1 << 20  # 1 MiB: few syscalls per byte, and still a small, constant footprint
WRITEBACK_STEP = 16 << 20  # start the disk on what was written every 16 MiB, not at the final fsync
BLOCK = tarfile.BLOCKSIZE
RECORD = tarfile.RECORDSIZE
MAX_JSON = 256 << 20  # a manifest of 100,000 members is ~15 MiB; anything huge is not ours
MAX_PAX = 64 << 10
USTAR_MAX_SIZE = 8**11  # an 11-digit octal size field
SAFE_MEMBER = re.compile(
    r"(?:ARCHIVE|MANIFEST)\.json|database/bastion\.(?:sqlite3|pgdump)|files/(?P<fan>[0-9a-f]{2})/(?P=fan)[0-9a-f]{30}"
)
FAN_DIR = re.compile(r"[0-9a-f]{2}")
BLOB_FILE = re.compile(r"[0-9a-f]{32}")
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)
_TYPE_NAMES = {
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.DIRTYPE: "directory",
    tarfile.CHRTYPE: "device",
    tarfile.BLKTYPE: "device",
    tarfile.FIFOTYPE: "FIFO",
}


def bastion_version() -> str:
    """The installed Bastion's version, recorded in every archive."""
    try:
        return version("bastion")
    except PackageNotFoundError:
        return "unknown"


@dataclass(frozen=True)
class Manifest:
    """What an archive holds: ARCHIVE.json's header, the caller's facts, and every member's digest."""

    format: int
    created_at: str  # ISO-8601, UTC
    bastion_version: str
    engine: str
    members: dict[str, dict[str, Any]] = field(default_factory=dict)  # name -> {"size", "sha256"}
    counts: dict[str, Any] = field(default_factory=dict)
    master_versions: list[int] = field(default_factory=list)
    migrations: Any = None
    extra: dict[str, Any] = field(default_factory=dict)  # further facts, kept as given

    @property
    def database(self) -> str:
        """The database snapshot's member name, e.g. ``database/bastion.sqlite3``."""
        return MEMBERS[self.engine]

    def header(self) -> dict[str, Any]:
        """The fields of ARCHIVE.json."""
        return {
            "format": self.format,
            "created_at": self.created_at,
            "bastion_version": self.bastion_version,
            "engine": self.engine,
        }

    def summary(self) -> dict[str, Any]:
        """Everything except the member list: what the backup catalogue keeps."""
        return {
            **self.extra,
            **self.header(),
            "counts": self.counts,
            "master_versions": self.master_versions,
            "migrations": self.migrations,
        }

    def to_json(self) -> bytes:
        """MANIFEST.json's bytes."""
        # No indent: only then does json use its C encoder, which matters for 100,000 members.
        return json.dumps({**self.summary(), "members": self.members}, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse MANIFEST.json (or ARCHIVE.json, which has no members); CorruptArchive or NewerArchive."""
        try:
            raw = json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise CorruptArchive("the archive's manifest is not valid JSON: the archive is damaged") from None
        if not isinstance(raw, dict):
            raise CorruptArchive("the archive's manifest is not a JSON object: the archive is damaged")
        number = raw.get("format")
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            raise CorruptArchive("the archive's manifest has no valid format number: the archive is damaged")
        if number > ARCHIVE_FORMAT:
            raise NewerArchive(
                f"this archive was made by a newer Bastion (format {number}; this one reads "
                f"format {ARCHIVE_FORMAT}): upgrade Bastion first, then restore it"
            )
        try:
            fields = {key: raw.pop(key) for key in ("created_at", "bastion_version", "engine")}
        except KeyError as missing:
            raise CorruptArchive(f"the archive's manifest lacks {missing}: the archive is damaged") from None
        raw.pop("format")
        if fields["engine"] not in MEMBERS:
            raise CorruptArchive(
                f"the archive's manifest names an unknown database engine {fields['engine']!r}"
            )
        members = raw.pop("members", {})
        if not isinstance(members, dict) or not all(_is_digest(value) for value in members.values()):
            raise CorruptArchive("the archive's manifest has a malformed member list: the archive is damaged")
        return cls(
            format=number,
            members=members,
            counts=raw.pop("counts", {}) or {},
            master_versions=list(raw.pop("master_versions", []) or []),
            migrations=raw.pop("migrations", None),
            extra=raw,
            **fields,
        )


def _is_digest(value: object) -> bool:
    return (
        isinstance(value, dict)
        and isinstance(value.get("size"), int)
        and isinstance(value.get("sha256"), str)
        and len(value) == 2
    )


@dataclass(frozen=True)
class WrittenArchive:
    """A finished archive: its manifest, and the size and SHA-256 of the encrypted file."""

    manifest: Manifest
    size: int
    sha256: str


# --- writing ------------------------------------------------------------------------------------


def _write_out(handle: BinaryIO, data: bytes | memoryview) -> None:
    """Write encrypted bytes to the archive file (one place, so a test can make the disk full)."""
    handle.write(data)


def _widen_pipe(pipe: IO[bytes] | None) -> None:
    # A 1 MiB pipe instead of 64 KiB: fewer wake-ups between us and gpg. Best effort: the limit
    # (/proc/sys/fs/pipe-max-size) may be lower, and then the default works too, only slower.
    set_size = getattr(fcntl, "F_SETPIPE_SZ", None)
    if pipe is None or set_size is None:
        return
    with contextlib.suppress(OSError):
        fcntl.fcntl(pipe.fileno(), set_size, COPY_CHUNK)


class _Source(Protocol):
    """What member data is copied from: a file that can read into a buffer we reuse."""

    def readinto(self, buffer: memoryview | bytearray, /) -> int | None: ...


class _Stream(_Source, Protocol):
    """What a tar is read from: gpg's output, buffered."""

    def read(self, size: int, /) -> bytes: ...


class _TarWriter:
    """Writes tar members to a stream: a header from TarInfo, the data in 1 MiB chunks, padding."""

    def __init__(self, out: io.BufferedWriter) -> None:
        self.out = out
        self.buffer = bytearray(COPY_CHUNK)
        self.mtime = int(time.time())

    def add(self, name: str, size: int, source: _Source) -> dict[str, Any]:
        """Append member ``name`` of ``size`` bytes read from ``source``; its ``{"size", "sha256"}``."""
        self.out.write(self._header(name, size))
        digest = hashlib.sha256()
        view = memoryview(self.buffer)
        remaining = size
        while remaining:
            got = source.readinto(view[: min(remaining, COPY_CHUNK)])
            if not got:
                raise BackupError(f"{name} shrank while it was being backed up; run the backup again")
            digest.update(view[:got])
            self.out.write(view[:got])
            remaining -= got
        self.out.write(bytes(-size % BLOCK))
        return {"size": size, "sha256": digest.hexdigest()}

    def _header(self, name: str, size: int) -> bytes:
        """A ustar header; TarInfo (pax) only for what ustar cannot hold (members of 8 GiB or more).

        Written here because TarInfo.tobuf costs ~60 us per member, a second per 100,000 blobs.
        """
        encoded = name.encode("ascii")
        if size >= USTAR_MAX_SIZE or len(encoded) > 99:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode, info.type = size, self.mtime, 0o600, tarfile.REGTYPE
            return info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")
        block = bytearray(BLOCK)
        block[0 : len(encoded)] = encoded
        block[100:156] = b"0000600\x000000000\x000000000\x00%011o\x00%011o\x00        " % (size, self.mtime)
        block[156] = ord(tarfile.REGTYPE)
        block[257:265] = b"ustar\x0000"
        block[148:156] = b"%06o\x00 " % sum(block)
        return bytes(block)

    def add_bytes(self, name: str, data: bytes) -> dict[str, Any]:
        """Append a small member held in memory."""
        return self.add(name, len(data), io.BytesIO(data))

    def close(self, written: int) -> None:
        """The end-of-archive marker (two zero blocks), padded to a whole record like tar(1) does."""
        end = 2 * BLOCK
        self.out.write(bytes(end + (-(written + end) % RECORD)))


class _CountingSink(io.RawIOBase):
    """Counts the bytes going to gpg, for the final record padding."""

    def __init__(self, out: IO[bytes]) -> None:
        self.target = out
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        written = self.target.write(data)
        size = len(data) if written is None else written
        self.count += size
        return size

    def close(self) -> None:
        # Closing gpg's stdin is what tells it the input is complete.
        if not self.closed:
            self.target.close()
        super().close()


def _blobs(blob_dir: Path) -> Iterator[tuple[str, str]]:
    """``(member name, path)`` of every sealed blob, sorted; temp files and strays are skipped."""
    try:
        fans = sorted(entry.name for entry in os.scandir(blob_dir) if FAN_DIR.fullmatch(entry.name))
    except FileNotFoundError:
        return  # no blob stored yet
    for fan in fans:
        directory = blob_dir / fan
        if directory.is_symlink() or not directory.is_dir():
            continue
        with os.scandir(directory) as entries:
            names = sorted(
                entry.name
                for entry in entries
                if BLOB_FILE.fullmatch(entry.name)
                and entry.name.startswith(fan)
                and entry.is_file(follow_symlinks=False)
            )
        for name in names:
            yield f"files/{fan}/{name}", os.path.join(directory, name)


def _no_space(exc: OSError, directory: Path) -> BackupError:
    return BackupError(
        f"no space left on {directory} ({os.strerror(exc.errno or errno.ENOSPC)}): free some space or "
        "choose another place; no archive was written there and older archives were not touched"
    )


def _drain(
    stream: GpgStream, handle: BinaryIO, digest: Any, errors: list[BaseException], writeback: Writeback
) -> None:
    """Thread: gpg's output -> hash -> archive file. On failure, stop gpg so the writer stops too."""
    # Popen(bufsize=0) gives a raw FileIO, which has readinto: no copy per chunk.
    stdout = cast(io.FileIO, stream.process.stdout)
    buffer = bytearray(COPY_CHUNK)
    view = memoryview(buffer)
    unflushed = 0
    try:
        while got := stdout.readinto(view):
            digest.update(view[:got])
            _write_out(handle, view[:got])
            unflushed += got
            if unflushed >= WRITEBACK_STEP:
                writeback.push(handle.fileno())
                unflushed = 0
    except BaseException as exc:  # handed to the main thread, which raises it
        errors.append(exc)
        stream.process.kill()


def write_archive(
    target: Path,
    *,
    snapshot: Snapshot,
    blob_dir: Path,
    recipients: Sequence[str],
    facts: Mapping[str, object],
) -> WrittenArchive:
    """Write the encrypted archive to ``target``: all of it, or nothing at that name.

    Streams in constant memory: the tar goes into gpg's stdin while a thread hashes gpg's output into
    a temp file beside ``target`` (``.<name>.partial``), which is fsynced and renamed only once gpg
    reports success. ``recipients`` are armored public keys. ``facts`` ("counts", "master_versions",
    "migrations", anything else JSON) go into the manifest as given.
    """
    directory = target.parent
    if not directory.is_dir():
        raise BackupError(f"cannot write the archive: the directory {directory} does not exist")
    if target.exists():
        raise BackupError(f"{target} already exists; an archive is never overwritten")
    temp = directory / f".{target.name}.partial"
    temp.unlink(missing_ok=True)  # left by a crashed run of this same archive: never a finished one
    try:
        fd = create_private_file(temp)
    except OSError as exc:
        if exc.errno in NO_SPACE:
            raise _no_space(exc, directory) from exc
        raise BackupError(f"cannot write the archive in {directory}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "wb", buffering=COPY_CHUNK) as handle:
            with Writeback() as writeback:
                manifest, size, sha256 = _encrypt(handle, snapshot, blob_dir, recipients, facts, writeback)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
        fsync_dir(directory)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        if exc.errno in NO_SPACE:
            raise _no_space(exc, directory) from exc
        raise
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return WrittenArchive(manifest=manifest, size=size, sha256=sha256)


def _encrypt(
    handle: BinaryIO,
    snapshot: Snapshot,
    blob_dir: Path,
    recipients: Sequence[str],
    facts: Mapping[str, object],
    writeback: Writeback,
) -> tuple[Manifest, int, str]:
    # The gpg home holds only the recipients' public keys; it sits beside the snapshot (work space).
    with gpg_home(snapshot.path.parent) as home:
        stream = start_encrypt(home, recipients)
        try:
            digest = hashlib.sha256()
            errors: list[BaseException] = []
            _widen_pipe(stream.process.stdin)
            _widen_pipe(stream.process.stdout)
            drain_args = (stream, handle, digest, errors, writeback)
            reader = threading.Thread(target=_drain, args=drain_args, daemon=True)
            reader.start()
            try:
                manifest = _write_tar(stream, snapshot, blob_dir, facts)
                reader.join()  # gpg's output ends when gpg does
                returncode = stream.wait()
            except BaseException as exc:
                stream.abort()  # its stdout ends, so the reader thread finishes too
                reader.join()
                if errors:  # the disk, not gpg's closed pipe, is the real story
                    raise errors[0] from None
                if isinstance(exc, BrokenPipeError):  # gpg quit early: say why, in its words
                    check_encrypted(stream, stream.process.returncode)
                raise
            if errors:
                raise errors[0]
            check_encrypted(stream, returncode)
            return manifest, handle.tell(), digest.hexdigest()
        finally:
            stream.close()


def _write_tar(
    stream: GpgStream, snapshot: Snapshot, blob_dir: Path, facts: Mapping[str, object]
) -> Manifest:
    assert stream.process.stdin is not None  # started with stdin=PIPE
    sink = _CountingSink(stream.process.stdin)
    out = io.BufferedWriter(sink, buffer_size=COPY_CHUNK)
    tar = _TarWriter(out)
    header = Manifest(
        format=ARCHIVE_FORMAT,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        bastion_version=bastion_version(),
        engine=snapshot.engine,
    )
    members = {ARCHIVE_JSON: tar.add_bytes(ARCHIVE_JSON, json.dumps(header.header(), indent=1).encode())}
    with snapshot.path.open("rb", buffering=0) as database:
        members[snapshot.member] = tar.add(snapshot.member, os.fstat(database.fileno()).st_size, database)
    for member, path in _blobs(blob_dir):
        try:
            # O_NOFOLLOW: a symlink planted in the store is not followed out of it.
            blob = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        except FileNotFoundError:
            continue  # deleted since it was listed (its report was shredded): nothing to keep
        with os.fdopen(blob, "rb", buffering=0) as source:
            members[member] = tar.add(member, os.fstat(blob).st_size, source)
    facts = dict(facts)
    manifest = Manifest(
        **header.header(),
        members=members,
        counts=dict(facts.pop("counts", {}) or {}),  # type: ignore[call-overload]  # JSON from the caller
        master_versions=list(facts.pop("master_versions", []) or []),  # type: ignore[call-overload]
        migrations=facts.pop("migrations", None),
        extra=facts,
    )
    tar.add_bytes(MANIFEST_JSON, manifest.to_json())
    out.flush()
    tar.close(sink.count)
    out.close()  # gpg sees end of input and writes the rest
    return manifest


# --- reading ------------------------------------------------------------------------------------


class _TarReader:
    """Reads our tar members from gpg's output, refusing anything we never write."""

    def __init__(self, source: _Stream, writeback: Writeback) -> None:
        self.source = source
        self.buffer = bytearray(COPY_CHUNK)
        self.writeback = writeback

    def _exactly(self, size: int, what: str) -> bytes:
        data = self.source.read(size)
        if len(data) != size:
            raise CorruptArchive(f"the archive is truncated (it ends inside {what}); use another copy")
        return data

    def next(self) -> tuple[str, int] | None:
        """The next member's ``(name, size)``; None at the end-of-archive marker."""
        block = self.source.read(BLOCK)
        if not block:
            raise CorruptArchive("the archive is truncated (it ends without an end-of-archive marker)")
        if len(block) != BLOCK:
            raise CorruptArchive("the archive is truncated (it ends inside a member header)")
        if block == bytes(BLOCK):
            return None
        overrides: dict[str, str] = {}
        info = self._header(block)
        if info.type == tarfile.XHDTYPE:  # pax: long size (over 8 GiB) or name for the next member
            if info.size > MAX_PAX:
                raise CorruptArchive("the archive has an oversized pax header; it was not made by Bastion")
            overrides = _pax_records(
                self._exactly(info.size + (-info.size % BLOCK), "a pax header")[: info.size]
            )
            info = self._header(self._exactly(BLOCK, "a member header"))
        name = overrides.get("path", info.name)
        size = int(overrides["size"]) if "size" in overrides else info.size
        if not SAFE_MEMBER.fullmatch(name):
            raise CorruptArchive(
                f"the archive holds an unexpected member {name[:100]!r}; refusing to extract it"
            )
        if info.type not in (tarfile.REGTYPE, tarfile.AREGTYPE):
            kind = _TYPE_NAMES.get(info.type, f"type {info.type!r} entry")
            raise CorruptArchive(f"the archive member {name} is a {kind}, not a regular file; refusing it")
        return name, size

    @staticmethod
    def _header(block: bytes) -> tarfile.TarInfo:
        try:
            return tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
        except tarfile.HeaderError:
            raise CorruptArchive("the archive has a damaged member header; use another copy") from None

    def read_small(self, name: str, size: int) -> bytes:
        """A whole member that belongs in memory (the JSON files), padding skipped."""
        if size > MAX_JSON:
            raise CorruptArchive(
                f"the archive member {name} is implausibly large; it was not made by Bastion"
            )
        return self._exactly(size + (-size % BLOCK), name)[:size]

    def copy_to(self, name: str, size: int, fd: int, *, hashed: bool) -> str | None:
        """Stream a member's data into ``fd``; its SHA-256 if ``hashed``, else None."""
        digest = hashlib.sha256() if hashed else None
        view = memoryview(self.buffer)
        remaining = size
        while remaining:
            got = self.source.readinto(view[: min(remaining, COPY_CHUNK)])
            if not got:
                raise CorruptArchive(f"the archive is truncated (it ends inside {name}); use another copy")
            if digest is not None:
                digest.update(view[:got])
            chunk = view[:got]
            while chunk:
                chunk = chunk[os.write(fd, chunk) :]
            remaining -= got
            written = size - remaining
            if written // WRITEBACK_STEP != (written - got) // WRITEBACK_STEP:  # big files: as they land
                self.writeback.push(fd)
        self.writeback.push(fd)  # the restore's final sync then finds most of it on disk already
        self._exactly(-size % BLOCK, name)
        return digest.hexdigest() if digest is not None else None

    def drain(self) -> None:
        """Read to the end, so gpg gets to check the integrity of the whole stream."""
        while self.source.readinto(self.buffer):
            pass


def _pax_records(data: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    text = data.decode("utf-8", "surrogateescape")
    position = 0
    while position < len(text):
        length_text = text[position:].partition(" ")[0]
        if not length_text.isdigit():
            raise CorruptArchive("the archive has a malformed pax header; it was not made by Bastion")
        length = int(length_text)
        record = text[position : position + length]
        key, _, value = record[len(length_text) + 1 :].rstrip("\n").partition("=")
        if length <= 0 or not key:
            raise CorruptArchive("the archive has a malformed pax header; it was not made by Bastion")
        records[key] = value
        position += length
    return records


class _Extraction:
    """Files created under ``into`` for one read, so a failed read leaves nothing behind."""

    def __init__(self, into: Path) -> None:
        self.into = into
        self.made: list[Path] = []  # top-level entries only: removing them removes everything
        self.dirs: set[str] = set()

    def open(self, name: str) -> int:
        parent, _, _ = name.rpartition("/")
        if parent and parent not in self.dirs:
            path = self.into
            for part in parent.split("/"):
                path = path / part
                if not path.is_dir() or path.is_symlink():
                    path.mkdir(mode=0o700)
                    path.chmod(0o700)
                    if path.parent == self.into:
                        self.made.append(path)
            self.dirs.add(parent)
        path = self.into / name
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except FileExistsError:
            raise CorruptArchive(f"the archive holds {name} twice; it was not made by Bastion") from None
        if not parent:
            self.made.append(path)
        return fd

    def write(self, name: str, data: bytes) -> None:
        fd = self.open(name)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)

    def undo(self) -> None:
        for path in self.made:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def read_archive(
    source: Path,
    *,
    into: Path,
    secret_keys: Sequence[str],
    work_dir: Path | None = None,
    rehash: bool = True,
) -> Manifest:
    """Decrypt and extract the archive ``source`` into ``into``, checking every member against the manifest.

    ``into`` must not already hold any member's top-level name (ARCHIVE.json, MANIFEST.json,
    database, files). Files come out 0600, directories 0700. On any failure, whatever this call
    extracted is removed again and a :class:`BackupError` says what is wrong. ``secret_keys`` are
    armored, unprotected secret keys; gpg's temporary home goes under ``work_dir`` (default: the
    system temp dir) and is removed at the end.

    Every byte is always vouched for by gpg's integrity check over the whole stream (GOODMDC, see
    ``decryption_failure``), and every member's presence and size by the manifest. ``rehash``
    also recomputes each member's SHA-256 against the manifest: that proves our own writer put
    down the digests an operator checks by hand (README), which is the drill's job. A restore
    passes False: over 2 GiB it is ~1.6 s of a core that decryption needs, and it would learn
    nothing about damage or tampering that the integrity check has not already said.
    """
    if not source.is_file():
        raise BackupError(f"there is no archive at {source}")
    ensure_dir(into)
    taken = [name for name in (ARCHIVE_JSON, MANIFEST_JSON, "database", "files") if (into / name).exists()]
    if taken:
        raise BackupError(
            f"{into} already holds {', '.join(taken)}: extract the archive into an empty directory"
        )
    extraction = _Extraction(into)
    try:
        with gpg_home(work_dir or Path(tempfile.gettempdir())) as home:
            import_secret_keys(home, secret_keys)
            with source.open("rb") as encrypted:
                stream = start_decrypt(home, encrypted)
                try:
                    with Writeback() as writeback:
                        manifest = _decrypt(stream, extraction, writeback, rehash=rehash)
                finally:
                    stream.close()
        # One os.sync() instead of an fsync per file: 100,000 fsyncs would cost more than the whole
        # restore, and a crash before this point just means running the restore again (nothing it
        # replaced is gone yet: the caller moves the database into place after this returns).
        # Writeback of each file started as it landed (copy_to), so this mostly waits for metadata.
        os.sync()
        return manifest
    except OSError as exc:
        extraction.undo()
        if exc.errno in NO_SPACE:
            raise _no_space(exc, into) from exc
        raise
    except BaseException:
        extraction.undo()
        raise


def _decrypt(stream: GpgStream, extraction: _Extraction, writeback: Writeback, *, rehash: bool) -> Manifest:
    assert stream.process.stdout is not None  # started with stdout=PIPE
    _widen_pipe(stream.process.stdout)
    raw = cast(io.FileIO, stream.process.stdout)  # Popen(bufsize=0): a raw FileIO
    with io.BufferedReader(raw, buffer_size=COPY_CHUNK) as buffered:
        reader = _TarReader(buffered, writeback)
        try:
            manifest, seen = _extract(reader, extraction, rehash=rehash)
            reader.drain()
        except BackupError:
            # Stop reading; give gpg a moment for its own verdict (a wrong key ends it at once).
            buffered.close()
            with contextlib.suppress(subprocess.TimeoutExpired):  # still running: abort() stops it
                stream.process.wait(timeout=5)
            stream.abort()
            theirs = decryption_failure(stream, stream.process.returncode)
            if isinstance(theirs, (WrongBackupKey, NotAnArchive)):  # says more than a broken tar
                raise theirs from None
            raise
        except BaseException:
            # A disk error (or Ctrl-C) while extracting: stop gpg and reap it, or it outlives us
            # as a zombie of the restore or the worker.
            buffered.close()
            stream.abort()
            raise
    theirs = decryption_failure(stream, stream.wait())
    if theirs is not None:  # the integrity check at the end of the stream failed: nothing passes
        raise theirs
    _compare(manifest, seen)
    return manifest


def _extract(
    reader: _TarReader, extraction: _Extraction, *, rehash: bool
) -> tuple[Manifest, dict[str, dict[str, Any]]]:
    seen: dict[str, dict[str, Any]] = {}
    header: Manifest | None = None
    manifest: Manifest | None = None
    while (member := reader.next()) is not None:
        name, size = member
        if manifest is not None:
            raise CorruptArchive(
                f"the archive continues after its manifest (with {name}); it was not made by Bastion"
            )
        if header is None:
            if name != ARCHIVE_JSON:
                raise CorruptArchive(
                    f"the archive starts with {name}, not {ARCHIVE_JSON}; it was not made by Bastion"
                )
            data = reader.read_small(name, size)
            header = Manifest.from_json(data)  # NewerArchive here, before anything else is extracted
            extraction.write(name, data)
            seen[name] = {"size": size, "sha256": hashlib.sha256(data).hexdigest()}
            continue
        if name == MANIFEST_JSON:
            data = reader.read_small(name, size)
            manifest = Manifest.from_json(data)
            extraction.write(name, data)
            continue
        fd = extraction.open(name)
        try:
            digest = reader.copy_to(name, size, fd, hashed=rehash)
            seen[name] = {"size": size} if digest is None else {"size": size, "sha256": digest}
        finally:
            os.close(fd)
    if header is None:
        raise CorruptArchive("the archive is empty; it was not made by Bastion")
    if manifest is None:
        raise CorruptArchive(
            f"the archive is truncated: it ends before its {MANIFEST_JSON}; use another copy"
        )
    if manifest.header() != header.header():
        raise CorruptArchive(f"{ARCHIVE_JSON} and {MANIFEST_JSON} disagree; the archive was altered")
    return manifest, seen


def _compare(manifest: Manifest, seen: Mapping[str, Mapping[str, Any]]) -> None:
    """Every member the manifest lists is there with its size (and hash, where taken); nothing else is."""
    for name, expected in manifest.members.items():
        if name not in seen:
            raise CorruptArchive(f"the archive lacks {name}, which its manifest lists; use another copy")
        found = seen[name]  # the manifest's entries are {"size", "sha256"} (Manifest.from_json checks)
        if found["size"] != expected["size"] or found.get("sha256", expected["sha256"]) != expected["sha256"]:
            raise CorruptArchive(
                f"{name} does not match the manifest (size or SHA-256 differs); use another copy"
            )
    unlisted = sorted(set(seen) - set(manifest.members))
    if unlisted:
        raise CorruptArchive(
            f"the archive holds {unlisted[0]}, which its manifest does not list; it was altered"
        )
