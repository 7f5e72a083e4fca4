"""The shred ledger: which data keys were destroyed, kept beside the master key and never in an archive.

Shredding a report destroys its data key in the live database, but every backup made before still
holds that key, wrapped. Restoring such an archive would bring the key, and so the report, back.
The ledger closes that hole: one JSON line per shredded subject, appended (and fsynced) to
``VAULT_STATE_DIR/shred-ledger.jsonl``, which lives with the master key and is never archived.
Every restore (and a periodic task, for a hand-made ``gpg --decrypt`` restore) re-applies it, so a
key shredded after an archive was made is destroyed again as soon as the archive is restored.

**Order rule**: the ledger line is written and fsynced *before* the database shred. A crash between
the two leaves a line whose key is still alive; the next :meth:`ShredLedger.apply` destroys it.
The other order could lose the line while the key is gone from the live database only, and an
older archive would then resurrect the report. So a crash errs towards destroying, never towards
resurrecting.

The file holds subjects (``"report:<uuid>"``), times and short reason codes: never content.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from bastion.vault._files import ensure_dir, fsync_dir
from bastion.vault.models import SUBJECT_MAX_LENGTH, DataKey

logger = logging.getLogger(__name__)

LEDGER_NAME = "shred-ledger.jsonl"
# SQLite allows 999 bound parameters in old builds and 32,766 in new ones: 500 is safe everywhere.
IN_BATCH = 500
_WHY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
# A line cut short by a crash may still name its subject in full (it is written first): keep it.
_TORN_SUBJECT = re.compile(r'^\{\s*"subject"\s*:\s*"([^"\\]+)"')


@dataclass(frozen=True)
class LedgerEntry:
    """One shredded subject: when (``at``, None if a torn line lost it) and why (a short code)."""

    subject: str
    at: datetime | None
    why: str


class ShredLedger:
    """An append-only file of JSON lines ``{"subject": ..., "at": ISO UTC, "why": code}``.

    The file is 0600 in a 0700 directory. Each :meth:`append` is one ``O_APPEND`` write followed by
    fsync (and an fsync of the directory when the file is new), so a line reported written survives
    a power cut, and concurrent writers (web workers, the task worker, the CLI) never interleave.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ShredLedger({str(self.path)!r})"

    # --- writing ---------------------------------------------------------------------------------

    def append(self, subject: str, *, why: str, at: datetime | None = None) -> LedgerEntry:
        """Record that ``subject``'s key is (about to be) destroyed, durably; the entry written.

        Call it before destroying the key (see the module's order rule). ``why`` is a short code
        such as ``"retention"``; ``at`` defaults to now.
        """
        if not subject or len(subject) > SUBJECT_MAX_LENGTH or not subject.isprintable():
            raise ValueError("a ledger subject is a data key's subject, e.g. 'report:<uuid>'")
        if not _WHY.fullmatch(why):
            raise ValueError("a ledger reason is a short code of lower-case letters, digits and '_'")
        moment = (at or timezone.now()).astimezone(UTC)
        entry = LedgerEntry(subject=subject, at=moment, why=why)
        line = json.dumps({"subject": subject, "at": moment.isoformat(), "why": why}, ensure_ascii=True)
        self._write_line(line.encode("ascii"))
        return entry

    def _write_line(self, line: bytes) -> None:
        ensure_dir(self.path.parent)
        created = not self.path.exists()
        # O_NOFOLLOW: never append through a planted symlink. No O_EXCL: another process may
        # create the file at the same moment, and appending to theirs is exactly right.
        # Read-write: the last byte is read to find a torn line (below).
        flags = os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(self.path, flags, 0o600)
        try:
            os.fchmod(fd, 0o600)
            size = os.fstat(fd).st_size
            # A crash mid-write leaves a last line without its newline; without one of our own,
            # this line would be glued onto it and be unreadable too.
            torn = size > 0 and os.pread(fd, 1, size - 1) != b"\n"
            data = (b"\n" if torn else b"") + line + b"\n"
            # One write(): with O_APPEND the kernel places it whole at the end of the file.
            if os.write(fd, data) != len(data):
                raise OSError(f"short write to the shred ledger {self.path}; check the disk has space")
            os.fsync(fd)
        finally:
            os.close(fd)
        if created:
            fsync_dir(self.path.parent)

    # --- reading ---------------------------------------------------------------------------------

    def entries(self) -> dict[str, LedgerEntry]:
        """Every subject in the ledger, with its first (earliest written) entry; {} if there is none.

        A line that does not parse (a crash cut it short) is skipped, unless its subject was
        written in full, which is then kept: when in doubt, a key is destroyed.
        """
        found: dict[str, LedgerEntry] = {}
        for entry in self._read():
            found.setdefault(entry.subject, entry)
        return found

    def subjects(self) -> set[str]:
        """The subjects whose keys the ledger says are destroyed."""
        return set(self.entries())

    def _read(self) -> Iterator[LedgerEntry]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        for number, line in enumerate(raw.split(b"\n"), start=1):
            if not line.strip():
                continue
            entry = _parse(line)
            if entry is None:
                logger.warning("Shred ledger %s: line %d is damaged and was skipped", self.path, number)
                continue
            yield entry

    # --- applying --------------------------------------------------------------------------------

    def pending(self, *, using: str = "default") -> list[LedgerEntry]:
        """The ledger's entries whose data key on ``using`` exists and is not destroyed yet.

        Read-only and cheap when there is nothing to do: one indexed query per ``IN_BATCH``
        subjects, no write lock (the periodic task asks this first).
        """
        entries = self.entries()
        alive: list[LedgerEntry] = []
        for batch in _batches(sorted(entries), IN_BATCH):
            keys = DataKey.objects.using(using).filter(subject__in=batch, destroyed_at__isnull=True)
            alive.extend(entries[subject] for subject in keys.values_list("subject", flat=True))
        return sorted(alive, key=lambda entry: entry.subject)

    def apply(self, *, using: str = "default") -> list[str]:
        """Destroy every data key on ``using`` that the ledger lists and is still alive; the subjects.

        Like ``DataKey.shred``: a conditional UPDATE (wrapped emptied, ``destroyed_at`` set to the
        ledger's time, so the row says when it was really shredded). Idempotent: a second call
        destroys nothing and returns []. This touches keys only; the reports app tidies the rest.
        """
        destroyed = []
        now = timezone.now()
        for entry in self.pending(using=using):
            keys = DataKey.objects.using(using).filter(subject=entry.subject, destroyed_at__isnull=True)
            if keys.update(wrapped=b"", destroyed_at=entry.at or now):
                destroyed.append(entry.subject)
        return destroyed


def _parse(line: bytes) -> LedgerEntry | None:
    """The entry on ``line``; None if not even its subject can be read."""
    try:
        value = json.loads(line)
        subject, at, why = value["subject"], value["at"], value["why"]
        if not isinstance(subject, str) or not isinstance(why, str) or not subject:
            raise ValueError("ledger fields are strings")
        return LedgerEntry(subject=subject, at=datetime.fromisoformat(at), why=why)
    except (ValueError, KeyError, TypeError):
        match = _TORN_SUBJECT.match(line.decode("ascii", errors="replace"))
        return LedgerEntry(subject=match.group(1), at=None, why="") if match else None


def _batches(items: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def shred_ledger() -> ShredLedger:
    """The instance's ledger, at ``settings.VAULT_STATE_DIR / "shred-ledger.jsonl"``."""
    return ShredLedger(Path(settings.VAULT_STATE_DIR) / LEDGER_NAME)
