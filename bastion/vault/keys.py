"""Master keys: versioned, behind a small Protocol, with a local file-based default.

A master key never encrypts report data itself; it only wraps per-report data keys
(:func:`bastion.vault.envelope.wrap_data_key`). Versions let a rotation add a new master key, rewrap
the data keys in batches, and retire the old one, while rows not yet rewrapped stay readable.

Providers read their keys on every call and hold no cache: a rotation run in another process adds
a version, and every web and worker process must see it without a restart.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
from pathlib import Path
from typing import Protocol, runtime_checkable

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from bastion.vault._files import create_private_file, fsync_dir, private_dir
from bastion.vault._pluggable import from_setting
from bastion.vault.errors import MasterKeyUnavailable

# 256-bit keys: AES-256 for wrapping, and a comfortable margin against multi-target attacks.
MASTER_KEY_BYTES = 32
DEFAULT_PROVIDER = "bastion.vault.keys.FileKeyProvider"
KEY_FILE_PATTERN = re.compile(r"^master-v([1-9][0-9]{0,8})\.key$")


@runtime_checkable
class KeyProvider(Protocol):
    """Where master keys come from: files here, or an env var, a KMS or an HSM elsewhere."""

    def current_version(self) -> int:
        """The version new data keys are wrapped under (creating it, if the provider may)."""
        ...

    def master_key(self, version: int) -> bytes:
        """The 32-byte master key of ``version``; :class:`MasterKeyUnavailable` if there is none."""
        ...

    def versions(self) -> list[int]:
        """Every version this provider can open, oldest first."""
        ...


def parse_master_key(data: bytes, *, where: str, raw_allowed: bool = True) -> bytes:
    """A master key from its stored form: exactly 32 raw bytes (files only), or 32 bytes in base64.

    The two forms can't be confused: base64 of 32 bytes is 44 characters long. The error names
    ``where`` the key came from, never its content.
    """
    if raw_allowed and len(data) == MASTER_KEY_BYTES:
        return data
    try:
        key = base64.b64decode(data.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ImproperlyConfigured(f"{where}: a master key must be 32 bytes, raw or base64") from None
    if len(key) != MASTER_KEY_BYTES:
        raise ImproperlyConfigured(f"{where}: a master key must be 32 bytes, got {len(key)}")
    return key


def read_key_file(path: Path) -> bytes:
    """The master key stored in ``path``."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise MasterKeyUnavailable(f"no master key file at {path}") from None
    return parse_master_key(data, where=str(path))


def create_key_file(path: Path) -> bool:
    """Write a fresh random master key to ``path`` unless one is there; True if this call made it.

    Race-safe and never half-written: the key goes to a private temp file (O_EXCL, 0600), is
    fsynced, then hard-linked into place. ``link`` fails if the name exists, so when two processes
    start at once exactly one key wins, and a reader can never see an empty or partial key file
    (which O_EXCL on the final name alone would allow between create and write).
    """
    private_dir(path.parent)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = create_private_file(temp)
    try:
        with os.fdopen(fd, "wb") as handle:
            # secrets.token_bytes reads the OS CSPRNG. Stored as base64 text so an operator can
            # copy it into a password manager or onto paper for the offline backup.
            handle.write(base64.b64encode(secrets.token_bytes(MASTER_KEY_BYTES)) + b"\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temp, path)
        except FileExistsError:
            return False
        fsync_dir(path.parent)
        return True
    finally:
        temp.unlink(missing_ok=True)


class FileKeyProvider:
    """The default: master keys as ``<directory>/master-v<N>.key`` files (0600, in a 0700 dir).

    The first call to :meth:`current_version` on an empty directory generates version 1, so a
    zero-configuration instance works; the deploy checks warn when that directory is inside the
    data directory, since every backup of the data would then carry the key that opens it.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)

    @classmethod
    def from_settings(cls) -> KeyProvider:
        """``MASTER_KEY_FILE`` (a single operator-supplied key, version 1) or ``MASTER_KEY_DIR``."""
        single = settings.MASTER_KEY_FILE
        if single:
            return SingleFileKeyProvider(Path(single))
        return cls(Path(settings.MASTER_KEY_DIR))

    def path(self, version: int) -> Path:
        """Where the key of ``version`` lives (whether or not it exists)."""
        if version < 1:
            raise ValueError("master key versions start at 1")
        return self.directory / f"master-v{version}.key"

    def versions(self) -> list[int]:
        """The versions present on disk, oldest first."""
        try:
            names = os.listdir(self.directory)
        except FileNotFoundError:
            return []
        return sorted(int(match[1]) for name in names if (match := KEY_FILE_PATTERN.match(name)))

    def current_version(self) -> int:
        """The newest version on disk; generates version 1 on first use."""
        versions = self.versions()
        if versions:
            return versions[-1]
        # Whether this process or a concurrent one wins the link, version 1 now exists.
        create_key_file(self.path(1))
        return 1

    def master_key(self, version: int) -> bytes:
        """The key of ``version``, read from its file."""
        return read_key_file(self.path(version))

    def add_version(self) -> int:
        """Generate the next master key version (the first step of a rotation) and return it."""
        while True:
            version = max(self.versions(), default=0) + 1
            if create_key_file(self.path(version)):
                return version
            # Another process created this version first; take the next number.


class SingleFileKeyProvider:
    """One operator-supplied key file (``BASTION_MASTER_KEY_FILE``), served as version 1.

    It is never generated: a configured path with no key behind it is a deployment mistake, and
    making up a new key would silently leave every existing report unreadable.
    """

    VERSION = 1

    def __init__(self, path: Path) -> None:
        self.file = Path(path)

    def versions(self) -> list[int]:
        """Always ``[1]``."""
        return [self.VERSION]

    def current_version(self) -> int:
        """Always 1; fails loudly at once if the file is missing or malformed."""
        if not self.file.exists():
            raise ImproperlyConfigured(f"BASTION_MASTER_KEY_FILE: no key file at {self.file}")
        return self.VERSION

    def master_key(self, version: int) -> bytes:
        """The key in the file, for version 1 only."""
        if version != self.VERSION:
            raise MasterKeyUnavailable(f"a single key file holds version 1 only, not {version}")
        return read_key_file(self.file)


class EnvKeyProvider:
    """A single master key (version ``version``), base64 in an environment variable.

    Handy for containers whose secret store injects env vars; environment values leak more easily
    (``/proc/<pid>/environ``, crash reports), so the file provider stays the default.
    """

    def __init__(self, variable: str = "BASTION_MASTER_KEY", *, version: int = 1) -> None:
        self.variable = variable
        self.version = version

    @classmethod
    def from_settings(cls) -> KeyProvider:
        """Reads the variable named by ``VAULT_MASTER_KEY_VARIABLE`` (default BASTION_MASTER_KEY)."""
        return cls(getattr(settings, "VAULT_MASTER_KEY_VARIABLE", "BASTION_MASTER_KEY"))

    def versions(self) -> list[int]:
        """The one configured version."""
        return [self.version]

    def current_version(self) -> int:
        """The configured version, after checking the key is there and well-formed."""
        self.master_key(self.version)
        return self.version

    def master_key(self, version: int) -> bytes:
        """The key from the environment, read on every call."""
        if version != self.version:
            raise MasterKeyUnavailable(f"{self.variable} holds version {self.version} only, not {version}")
        raw = os.environ.get(self.variable)
        if not raw:
            raise MasterKeyUnavailable(f"{self.variable} is not set")
        # Base64 only: a 32-character text value must not pass for a raw (and weak) key.
        return parse_master_key(raw.encode("ascii", errors="replace"), where=self.variable, raw_allowed=False)


def get_key_provider() -> KeyProvider:
    """The provider named by ``VAULT_KEY_PROVIDER`` (a dotted path to a class with ``from_settings``)."""
    made: KeyProvider = from_setting("VAULT_KEY_PROVIDER", KeyProvider)
    return made
