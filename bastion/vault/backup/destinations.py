"""Where encrypted backup archives go: directories (other disks, mounts) and S3-compatible buckets.

Every destination holds a flat set of archives named by :func:`archive_name`, and touches nothing
else: a name :func:`archive_time` cannot read is someone else's file, never listed and never pruned.
Storing is all or nothing (a failed store leaves no archive under its name and never disturbs the
archives already there), because a failed backup must never cost an older good one.

Destinations are configured as specs in ``BASTION_BACKUP_TO`` (see :func:`parse_destination`).
Credentials for S3 come from boto3's standard chain (``AWS_ACCESS_KEY_ID``, ...), never from our
settings, so they stay out of anything Bastion stores or shows.
"""

from __future__ import annotations

import errno
import os
import re
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable
from urllib.parse import parse_qsl, unquote, urlsplit

from django.conf import settings

from bastion.vault._files import create_private_file, fsync_dir
from bastion.vault.errors import VaultError

if TYPE_CHECKING:
    from bastion.vault.backup.s3 import S3Destination

ARCHIVE_SUFFIX = ".tar.gpg"
_ARCHIVE_NAME = re.compile(r"^bastion-(\d{8}T\d{6}Z)-[0-9a-f]{6}" + re.escape(ARCHIVE_SUFFIX) + "$")
_STAMP = "%Y%m%dT%H%M%SZ"
COPY_CHUNK = 1024 * 1024
# S3 parts: few enough requests for a multi-GiB archive, small enough to retry cheaply (min 5 MiB).
DEFAULT_PART_SIZE = 64 * 1024 * 1024
# BackupCopy.destination is a CharField(max_length=100): a longer name could not be recorded.
DESTINATION_NAME_MAX = 100
_SPEC_HELP = "expected /abs/path, file:///abs/path or s3://bucket/prefix (BASTION_BACKUP_TO)"


class DestinationError(VaultError):
    """A backup destination cannot be used or an operation on it failed; the message says what to fix."""


class DestinationSpecError(DestinationError, ValueError):
    """A destination spec (``BASTION_BACKUP_TO``) or retention (``BASTION_BACKUP_KEEP``) is malformed."""


# --- archive names ---------------------------------------------------------------------------------


def archive_name(at: datetime) -> str:
    """The archive name for a backup taken at ``at`` (an aware datetime), plus 6 random hex digits.

    The random part keeps two runs within the same second apart; the time is UTC, so names sort
    the same way on every machine.
    """
    if at.tzinfo is None:
        raise ValueError("archive_name needs an aware datetime (use django.utils.timezone.now())")
    return f"bastion-{at.astimezone(UTC).strftime(_STAMP)}-{secrets.token_hex(3)}{ARCHIVE_SUFFIX}"


def archive_time(name: str) -> datetime | None:
    """When the archive ``name`` was taken (UTC), or None if the name is not one we make."""
    match = _ARCHIVE_NAME.fullmatch(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), _STAMP).replace(tzinfo=UTC)
    except ValueError:  # the shape matched but it is no real date, e.g. month 13
        return None


def checked_name(name: str) -> str:
    """``name`` if it is one of our archive names; refusing anything else also rules out path tricks."""
    if archive_time(name) is None:
        raise DestinationError(f"{name!r} is not a Bastion archive name (bastion-<UTC time>-<hex>.tar.gpg)")
    return name


def sorted_archives(names: list[str]) -> list[str]:
    """Our archive names among ``names``, oldest first."""
    dated = [(when, name) for name in names if (when := archive_time(name)) is not None]
    return [name for _, name in sorted(dated)]


# --- retention -------------------------------------------------------------------------------------

_KEEP_PART = re.compile(r"^(\d{1,5})([dwm])$")


@dataclass(frozen=True)
class Keep:
    """How many daily, weekly and monthly archives a destination keeps (see ``retention.py``)."""

    daily: int
    weekly: int
    monthly: int

    @classmethod
    def parse(cls, text: str) -> Keep:
        """Read ``"7d,4w,12m"``: any order, any subset (``"30d"``); missing units count as 0."""
        counts: dict[str, int] = {}
        for part in text.replace(" ", "").split(","):
            match = _KEEP_PART.fullmatch(part)
            if match is None:
                raise DestinationSpecError(
                    f"backup retention {text!r}: expected counts like '7d,4w,12m' (days, weeks, months)"
                )
            if match.group(2) in counts:
                raise DestinationSpecError(f"backup retention {text!r}: '{match.group(2)}' is given twice")
            counts[match.group(2)] = int(match.group(1))
        return cls(daily=counts.get("d", 0), weekly=counts.get("w", 0), monthly=counts.get("m", 0))

    @property
    def horizon(self) -> timedelta:
        """The longest an archive is kept: the last N calendar days, ISO weeks or months reach back at
        most N days, 7N days or 31N days. (The newest archive is always kept, whatever its age.)"""
        return timedelta(days=max(self.daily, self.weekly * 7, self.monthly * 31))

    def __str__(self) -> str:
        counts = ((self.daily, "d"), (self.weekly, "w"), (self.monthly, "m"))
        return ",".join(f"{count}{unit}" for count, unit in counts if count) or "0d"


# --- the protocol ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoredCopy:
    """Where a store put the archive, and until when the destination itself forbids deleting it."""

    location: str
    retain_until: datetime | None


@runtime_checkable
class Destination(Protocol):
    """One place archives are written to, listed from, read back from and pruned in."""

    name: str
    keep: Keep

    def check(self) -> None:
        """Raise :class:`DestinationError` if the destination cannot be used right now."""
        ...

    def store(self, archive: Path, name: str) -> StoredCopy:
        """Copy the local file ``archive`` in under ``name``: all of it, or nothing and an error."""
        ...

    def archives(self) -> list[str]:
        """Names of our archives present, oldest first."""
        ...

    def fetch(self, name: str, into: Path) -> Path:
        """A local file holding the archive (downloaded into the directory ``into`` if need be)."""
        ...

    def delete(self, name: str) -> None:
        """Remove the archive; nothing happens if it is already gone."""
        ...

    def locate(self, name: str) -> str:
        """Where the archive is, for people: a path or ``s3://bucket/key``."""
        ...


# --- directories -----------------------------------------------------------------------------------


def _copy_bytes(source: BinaryIO, target: BinaryIO) -> None:
    """Copy ``source`` to ``target`` in 1 MiB chunks (memory stays flat whatever the size)."""
    shutil.copyfileobj(source, target, COPY_CHUNK)


class DirectoryDestination:
    """Archives as files (0600) in one existing directory, typically on another disk or a mount.

    The directory is never created: a missing mount point must fail loudly rather than fill the
    disk the live data is on.
    """

    def __init__(self, path: Path, keep: Keep, name: str | None = None) -> None:
        self.path = Path(path)
        self.keep = keep
        self.name = name or f"dir:{self.path}"

    def __repr__(self) -> str:
        return f"<DirectoryDestination {self.name}>"

    def check(self) -> None:
        """The directory exists and this process may create files in it."""
        if not self.path.exists():
            raise DestinationError(f"backup destination {self.path} does not exist (is the disk mounted?)")
        if not self.path.is_dir():
            raise DestinationError(f"backup destination {self.path} is not a directory")
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise DestinationError(f"backup destination {self.path} is not writable by uid {os.geteuid()}")

    def _check_space(self, needed: int) -> None:
        stats = os.statvfs(self.path)
        available = stats.f_bavail * stats.f_frsize
        if available < needed:
            raise DestinationError(
                f"no space left on {self.path} (needed {needed} bytes, {available} available)"
            )

    def store(self, archive: Path, name: str) -> StoredCopy:
        """Copy to ``.<name>.partial``, fsync, rename into place, fsync the directory.

        A crash or error leaves no file under ``name``; the partial file is removed on any error.
        """
        checked_name(name)
        self.check()
        target = self.path / name
        if target.exists():
            raise DestinationError(f"backup destination {self.path} already holds {name}; not overwriting it")
        self._check_space(archive.stat().st_size)
        partial = self.path / f".{name}.partial"
        try:
            fd = create_private_file(partial)
            try:
                with open(archive, "rb") as source, os.fdopen(fd, "wb") as handle:
                    _copy_bytes(source, handle)
                    handle.flush()
                    os.fsync(handle.fileno())
                os.rename(partial, target)
            except BaseException:
                partial.unlink(missing_ok=True)
                raise
            fsync_dir(self.path)
        except OSError as exc:
            raise self._failure(exc, f"writing {name}") from exc
        return StoredCopy(location=str(target), retain_until=None)

    def _failure(self, exc: OSError, doing: str) -> DestinationError:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            return DestinationError(f"no space left on {self.path} while {doing}")
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return DestinationError(f"backup destination {self.path} is not writable ({exc.strerror})")
        return DestinationError(f"backup destination {self.path}: {doing} failed: {exc.strerror or exc}")

    def archives(self) -> list[str]:
        """Our archive files in the directory (regular files only, never partial ones), oldest first."""
        try:
            with os.scandir(self.path) as entries:
                names = [entry.name for entry in entries if entry.is_file(follow_symlinks=False)]
        except FileNotFoundError as exc:
            raise DestinationError(
                f"backup destination {self.path} does not exist (is the disk mounted?)"
            ) from exc
        except OSError as exc:
            raise self._failure(exc, "listing archives") from exc
        return sorted_archives(names)

    def fetch(self, name: str, into: Path) -> Path:
        """The archive file itself: a directory copy needs no download (``into`` is not used)."""
        path = self.path / checked_name(name)
        if not path.is_file():
            raise DestinationError(f"backup destination {self.path} has no archive {name}")
        return path

    def delete(self, name: str) -> None:
        """Unlink the archive if present."""
        path = self.path / checked_name(name)
        try:
            path.unlink()
        except FileNotFoundError:
            return
        except OSError as exc:
            raise self._failure(exc, f"deleting {name}") from exc
        fsync_dir(self.path)

    def locate(self, name: str) -> str:
        """The archive's path."""
        return str(self.path / name)


# --- configuration ---------------------------------------------------------------------------------

_DIRECTORY_PARAMS = {"keep", "name"}
_S3_PARAMS = {"keep", "name", "endpoint", "region", "lock_days"}


def _query(spec: str, query: str, allowed: set[str]) -> dict[str, str]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise DestinationSpecError(f"backup destination {spec!r}: malformed query {query!r}") from exc
    params: dict[str, str] = {}
    for key, value in pairs:
        if key not in allowed:
            raise DestinationSpecError(
                f"backup destination {spec!r}: unknown option {key!r} (known: {', '.join(sorted(allowed))})"
            )
        if key in params:
            raise DestinationSpecError(f"backup destination {spec!r}: option {key!r} is given twice")
        if not value:
            raise DestinationSpecError(f"backup destination {spec!r}: option {key!r} is empty")
        params[key] = value
    return params


def _name(spec: str, params: dict[str, str], default: str) -> str:
    name = params.get("name", default)
    if len(name) > DESTINATION_NAME_MAX:
        raise DestinationSpecError(
            f"backup destination {spec!r}: the name is longer than {DESTINATION_NAME_MAX} characters; "
            "give a shorter one with ?name=..."
        )
    return name


def _keep(spec: str, params: dict[str, str], default: Keep) -> Keep:
    if "keep" not in params:
        return default
    try:
        return Keep.parse(params["keep"])
    except DestinationSpecError as exc:
        raise DestinationSpecError(f"backup destination {spec!r}: {exc}") from exc


def _s3_destination(spec: str, default_keep: Keep) -> S3Destination:
    # Imported here: boto3 costs every command that touches backups ~0.25 s to import, and most
    # instances back up to directories only.
    from bastion.vault.backup.s3 import S3Destination

    parts = urlsplit(spec)
    params = _query(spec, parts.query, _S3_PARAMS)
    if not parts.netloc:
        raise DestinationSpecError(f"backup destination {spec!r}: no bucket ({_SPEC_HELP})")
    lock_days = None
    if "lock_days" in params:
        if not params["lock_days"].isdigit() or int(params["lock_days"]) < 1:
            raise DestinationSpecError(f"backup destination {spec!r}: lock_days must be a whole number >= 1")
        lock_days = int(params["lock_days"])
    endpoint = params.get("endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise DestinationSpecError(
            f"backup destination {spec!r}: endpoint must start with http:// or https://"
        )
    prefix = parts.path.strip("/")
    return S3Destination(
        parts.netloc,
        prefix=prefix,
        endpoint_url=endpoint,
        region=params.get("region"),
        keep=_keep(spec, params, default_keep),
        name=_name(spec, params, f"s3:{parts.netloc}/{prefix}".rstrip("/")),
        lock_days=lock_days,
    )


def parse_destination(spec: str, *, default_keep: Keep) -> Destination:
    """One destination from its spec.

    ``/abs/path`` or ``file:///abs/path`` is a directory; ``s3://bucket/prefix`` a bucket, with
    ``?endpoint=URL&region=R&lock_days=N``. Both take ``keep=7d,4w,12m`` and ``name=N``. Relative
    paths are refused: a backup destination must say exactly where it is.
    """
    if spec.startswith("s3://"):
        return _s3_destination(spec, default_keep)
    path_part, _, query = spec.partition("?")
    if path_part.startswith("file://"):
        parts = urlsplit(path_part)
        if parts.netloc not in ("", "localhost"):
            raise DestinationSpecError(f"backup destination {spec!r}: file:// URLs name no host here")
        path_part = unquote(parts.path)
    elif "://" in path_part:
        raise DestinationSpecError(f"backup destination {spec!r}: unknown kind ({_SPEC_HELP})")
    if not path_part.startswith("/"):
        raise DestinationSpecError(f"backup destination {spec!r} is not an absolute path ({_SPEC_HELP})")
    path = Path(os.path.normpath(path_part))
    params = _query(spec, query, _DIRECTORY_PARAMS)
    return DirectoryDestination(
        path, keep=_keep(spec, params, default_keep), name=_name(spec, params, f"dir:{path}")
    )


def configured_destinations() -> list[Destination]:
    """The destinations in ``BACKUP_DESTINATIONS`` (``BASTION_BACKUP_TO``), each with its retention."""
    try:
        default_keep = Keep.parse(settings.BACKUP_KEEP)
    except DestinationSpecError as exc:
        raise DestinationSpecError(f"BASTION_BACKUP_KEEP: {exc}") from exc
    destinations = [
        parse_destination(spec, default_keep=default_keep) for spec in settings.BACKUP_DESTINATIONS
    ]
    seen: set[str] = set()
    for destination in destinations:
        if destination.name in seen:
            raise DestinationSpecError(
                f"BASTION_BACKUP_TO: two destinations are named {destination.name!r}; give one ?name=..."
            )
        seen.add(destination.name)
    return destinations
