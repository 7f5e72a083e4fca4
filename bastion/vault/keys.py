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
import shlex
import subprocess
from collections.abc import Sequence
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


@runtime_checkable
class RotatableKeyProvider(KeyProvider, Protocol):
    """A provider that can make a new master key version: what ``bastion keys rotate`` needs."""

    def add_version(self) -> int:
        """Create the next version and return its number; it becomes the current version."""
        ...


@runtime_checkable
class RetirableKeyProvider(KeyProvider, Protocol):
    """A provider that can destroy an old master key version: what ``bastion keys retire`` needs."""

    def retire(self, version: int) -> None:
        """Destroy ``version`` for good; refuses the current version."""
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

    def retire(self, version: int) -> None:
        """Delete the key file of ``version`` (never the current one) and make the deletion durable.

        Unlinking, not overwriting: on SSDs (wear levelling) and journaling or copy-on-write
        filesystems an in-place overwrite does not reliably reach the blocks that held the key, so
        it would only pretend. What THREAT_MODEL.md promises is deletion here plus the operator's own
        policy for any off-line copy of the key; the directory is fsynced so the deletion survives a
        power cut instead of the key reappearing.
        """
        if version == self.current_version():
            raise ValueError(f"master key version {version} is the current one: rotate before retiring it")
        path = self.path(version)
        try:
            path.unlink()
        except FileNotFoundError:
            raise MasterKeyUnavailable(f"no master key version {version} to retire at {path}") from None
        fsync_dir(self.directory)


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


class CommandKeyProvider:
    """Master keys from an operator's command, like git's credential helpers or sops' key services.

    ``BASTION_MASTER_KEY_COMMAND`` (shell words, run without a shell) is called as:

    - ``<cmd> versions``: print the available version numbers, one per line;
    - ``<cmd> key N``: print version N's key, 32 bytes in base64;
    - ``<cmd> new`` (optional, for rotation): create the next version, print its number;
    - ``<cmd> retire N`` (optional, for retirement): destroy version N.

    A few lines of script can fetch the key from AWS KMS or Secrets Manager, HashiCorp Vault or an
    HSM, so Bastion needs no SDK for any of them. An action the script does not support should exit
    non-zero with a message on stderr. Nothing is cached (see the module docstring): each call runs
    the command, which is why rotation pins the keys it needs for the length of one run.
    """

    TIMEOUT_SECONDS = 30.0
    STDERR_SHOWN = 200  # characters of the command's stderr put into an error message

    def __init__(self, command: Sequence[str], *, timeout: float = TIMEOUT_SECONDS) -> None:
        if not command:
            raise ImproperlyConfigured("BASTION_MASTER_KEY_COMMAND: the key command is empty")
        self.command = list(command)
        self.timeout = timeout

    @classmethod
    def from_settings(cls) -> KeyProvider:
        """The command in ``VAULT_KEY_COMMAND`` (``BASTION_MASTER_KEY_COMMAND``), split like a shell."""
        configured = settings.VAULT_KEY_COMMAND
        if not configured:
            raise ImproperlyConfigured(
                "BASTION_VAULT_KEY_PROVIDER names the command provider, but BASTION_MASTER_KEY_COMMAND "
                "is not set: set it to the command that prints master keys"
            )
        try:
            return cls(shlex.split(configured))
        except ValueError as exc:
            raise ImproperlyConfigured(
                f"BASTION_MASTER_KEY_COMMAND: cannot split it into words: {exc}"
            ) from None

    def _run(self, *args: str) -> bytes:
        """The command's stdout for ``args``; MasterKeyUnavailable, quoting stderr only, on failure."""
        shown = shlex.join([Path(self.command[0]).name, *args])
        try:
            # No shell: the command is the operator's configured argv plus our fixed words.
            done = subprocess.run(  # noqa: S603 - argv from the operator's own configuration
                [*self.command, *args],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=self.timeout,
                check=False,
            )
        except FileNotFoundError:
            raise MasterKeyUnavailable(f"key command not found: {self.command[0]}") from None
        except PermissionError:
            raise MasterKeyUnavailable(f"key command is not executable: {self.command[0]}") from None
        except subprocess.TimeoutExpired:
            raise MasterKeyUnavailable(
                f"key command `{shown}` did not answer within {self.timeout:g} s"
            ) from None
        if done.returncode != 0:
            # stderr's first line only: stdout may hold a key, and later stderr lines a traceback.
            lines = done.stderr.decode("utf-8", errors="replace").strip().splitlines()
            reason = lines[0][: self.STDERR_SHOWN] if lines else "no message on stderr"
            raise MasterKeyUnavailable(f"key command `{shown}` failed (exit {done.returncode}): {reason}")
        return done.stdout

    def _version_number(self, text: str, *, action: str) -> int:
        if not re.fullmatch(r"[1-9][0-9]{0,8}", text):
            # Never echo the output: a misbehaving script might print a key where a number belongs.
            raise MasterKeyUnavailable(
                f"key command `{action}` printed something that is not a version number"
            )
        return int(text)

    def versions(self) -> list[int]:
        """The versions ``<cmd> versions`` lists, oldest first."""
        lines = self._run("versions").decode("utf-8", errors="replace").split()
        return sorted({self._version_number(line, action="versions") for line in lines})

    def current_version(self) -> int:
        """The newest listed version; never invented (a KMS key is created by its owner, or by ``new``)."""
        versions = self.versions()
        if not versions:
            raise MasterKeyUnavailable("key command lists no master key versions: create one (`<cmd> new`)")
        return versions[-1]

    def master_key(self, version: int) -> bytes:
        """Version ``version``'s key, as ``<cmd> key N`` prints it (base64 only)."""
        output = self._run("key", str(int(version)))
        return parse_master_key(output, where=f"key command `key {version}`", raw_allowed=False)

    def add_version(self) -> int:
        """``<cmd> new``: the script creates the next version and prints its number."""
        return self._version_number(self._run("new").decode("utf-8", errors="replace").strip(), action="new")

    def retire(self, version: int) -> None:
        """``<cmd> retire N``, after refusing the current version here too."""
        if version == self.current_version():
            raise ValueError(f"master key version {version} is the current one: rotate before retiring it")
        self._run("retire", str(int(version)))


def get_key_provider() -> KeyProvider:
    """The provider named by ``VAULT_KEY_PROVIDER`` (a dotted path to a class with ``from_settings``)."""
    made: KeyProvider = from_setting("VAULT_KEY_PROVIDER", KeyProvider)
    return made
