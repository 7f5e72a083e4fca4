"""Reading Bastion's environment: typed, validated, and loud about mistakes.

Every ``BASTION_*`` variable is read through these helpers so that a bad value stops start-up with a
message naming the variable (DESIGN.md §4.6), instead of surfacing later as a confusing failure.
Secrets may also come from ``<NAME>_FILE``, which keeps them out of the process environment listing.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    """The variable's value, or the contents of ``<name>_FILE``, or ``default``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {file_name!r}: {exc.strerror}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}: expected 1/0, true/false, yes/no or on/off, got {raw!r}")


def env_int(name: str, default: int, *, minimum: int = 0, maximum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {raw!r}") from None
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f" and at most {maximum}"
        raise ImproperlyConfigured(f"{name}: must be at least {minimum}{upper}, got {value}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int = 0) -> list[int]:
    """A comma-separated list of whole numbers, each at least ``minimum``; sorted, largest first."""
    values = []
    for item in env_list(name, [str(number) for number in default]):
        try:
            number = int(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not a whole number") from None
        if number < minimum:
            raise ImproperlyConfigured(f"{name}: {number} is below the minimum of {minimum}")
        values.append(number)
    return sorted(set(values), reverse=True)


def env_listen(name: str, default: str) -> tuple[str, int]:
    """A ``host:port`` pair; IPv6 hosts are written in brackets, ``[::1]:8000``."""
    raw = os.environ.get(name, default)
    host, sep, port = raw.rpartition(":")
    if not sep or not host:
        raise ImproperlyConfigured(f"{name}: expected host:port, got {raw!r}")
    try:
        port_number = int(port)
    except ValueError:
        raise ImproperlyConfigured(f"{name}: the port must be a number, got {raw!r}") from None
    if not 0 < port_number < 65536:
        raise ImproperlyConfigured(f"{name}: the port must be between 1 and 65535, got {raw!r}")
    return host.strip("[]"), port_number


def database_from_url(url: str) -> dict[str, object]:
    """Django DATABASES entry for a ``postgres://`` or ``sqlite:///`` URL (DATABASE_URL)."""
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql"}:
        if not parts.path.strip("/"):
            raise ImproperlyConfigured("DATABASE_URL: name the database, e.g. postgres://user@host/bastion")
        try:
            port = parts.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL: the port is not a number") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(port or ""),
            # Persistent connections: one TCP + auth handshake per thread, not per request.
            "CONN_MAX_AGE": 600,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        # The usual convention: sqlite:///relative/path and sqlite:////absolute/path.
        return sqlite_database(Path(unquote(parts.path)[1:]))
    raise ImproperlyConfigured(
        f"DATABASE_URL: unsupported scheme {parts.scheme!r}; use postgres:// or sqlite:///"
    )


def sqlite_database(path: Path) -> dict[str, object]:
    """SQLite tuned for durability first: acknowledged means on disk (see STACK-NOTES.md)."""
    return {
        "ENGINE": "bastion.lib.sqlite",
        "NAME": str(path),
        "OPTIONS": {
            # IMMEDIATE takes the write lock at BEGIN, so two writers queue on busy_timeout
            # instead of one failing with "database is locked" half-way through.
            "transaction_mode": "IMMEDIATE",
            # WAL lets readers run beside the writer; synchronous=FULL fsyncs every commit,
            # which is what lets us acknowledge a report only once it is durable.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;",
        },
        "CONN_MAX_AGE": 600,
        "CONN_HEALTH_CHECKS": True,
        # Tests get a file too, beside the real one, not Django's shared-cache in-memory database:
        # that one locks whole tables between threads, which production's WAL file never does.
        "TEST": {"NAME": str(path.with_name(f"test_{path.name}"))},
    }


def secret_from_file(path: Path, *, nbytes: int = 50) -> str:
    """Read a generated secret, creating it (mode 0600) on first use."""
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(nbytes)
    # O_EXCL: if two processes start at once, exactly one writes and the other reads its value.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(value + "\n")
    return value


def ensure_data_dir(path: Path) -> Path:
    """Create the data directory and its parts, private to this user (0700)."""
    for sub in ("", "keys", "files", "outbox", "static"):
        target = path / sub
        target.mkdir(mode=0o700, parents=True, exist_ok=True)
        # mkdir's mode is filtered by the umask and ignored for existing dirs; say it plainly.
        target.chmod(0o700)
    return path
