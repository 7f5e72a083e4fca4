"""The ``gpg`` binary, for the OpenPGP stream work of backups.

gpg, not pysequoia, because an archive is gigabytes: gpg streams it in constant memory, and an
operator can open any archive with the same stock ``gpg --decrypt`` (DESIGN: gpg is the natural tool
for backups). Every run gets a throw-away home of its own; nothing touches the operator's keyring.

Outcomes are read from gpg's machine-readable status lines (``--status-fd``), not from its prose.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from bastion.vault._files import create_private_file, ensure_dir
from bastion.vault.backup.errors import BackupError, CorruptArchive, GpgMissing, NotAnArchive, WrongBackupKey

COMMON = ["--batch", "--no-tty", "--quiet", "--status-fd", "2", "--no-auto-check-trustdb"]
# gpg-agent listens on a Unix socket inside the home (no /run/user here); sun_path holds 107 bytes.
MAX_SOCKET_PATH = 100
SOCKET_NAME = "S.gpg-agent.browser"
IMPORT_TIMEOUT = 60.0
_STATUS = re.compile(r"^\[GNUPG:\] (\S+) ?(.*)$")


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise GpgMissing(f"the {name} program is missing; install gnupg (apt-get install gnupg)")
    return found


def gpg_binary() -> str:
    """The path of ``gpg``; :class:`GpgMissing` if it is not installed."""
    return _binary("gpg")


@contextmanager
def gpg_home(parent: Path) -> Iterator[Path]:
    """A private (0700), empty gpg home under ``parent``; its agent is stopped and it is removed at exit."""
    gpg_binary()
    ensure_dir(parent)
    # gpg-agent's socket lives in the home: a long parent would make the socket path too long for
    # the kernel, and decryption would fail with a baffling "socket name too long".
    if len(str(parent)) + len("/gpg-xxxxxxxx/") + len(SOCKET_NAME) > MAX_SOCKET_PATH:
        parent = Path(tempfile.gettempdir())
    home = Path(tempfile.mkdtemp(prefix="gpg-", dir=parent))
    try:
        yield home
    finally:
        gpgconf = shutil.which("gpgconf")
        if gpgconf is not None:
            subprocess.run(  # noqa: S603 - a fixed gpgconf command line; no shell, no user words
                [gpgconf, "--homedir", str(home), "--kill", "gpg-agent"],
                check=False,
                capture_output=True,
                timeout=30,
            )
        shutil.rmtree(home, ignore_errors=True)


def _write_private(path: Path, data: bytes) -> Path:
    fd = create_private_file(path)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


@dataclass
class GpgStream:
    """A running gpg: ``process.stdin`` / ``process.stdout`` carry the stream; its log goes to a file.

    The log is a file, not a pipe: nobody reads it while the stream flows, and a full stderr pipe
    would stall gpg and then us.
    """

    process: subprocess.Popen[bytes]
    log: IO[bytes]

    def status(self) -> dict[str, list[str]]:
        """gpg's status lines so far, by keyword (``ENC_TO`` -> its arguments, one per line)."""
        found: dict[str, list[str]] = {}
        for line in self._log_lines():
            match = _STATUS.match(line)
            if match:
                found.setdefault(match[1], []).append(match[2])
        return found

    def complaint(self) -> str:
        """gpg's last human-readable error line (it names no plaintext), for error messages."""
        lines = [line[5:].strip() for line in self._log_lines() if line.startswith("gpg: ")]
        return lines[-1] if lines else f"gpg exited with status {self.process.returncode}"

    def _log_lines(self) -> list[str]:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode("utf-8", "replace").splitlines()

    def wait(self) -> int:
        """Close gpg's input (if ours) and wait for it to exit; its exit status.

        stdout is left to whoever reads it (a thread, while encrypting): closing a file another
        thread is reading from is a race. :meth:`close` closes it.
        """
        stdin = self.process.stdin
        if stdin is not None and not stdin.closed:
            # Closing flushes the rest into gpg, which may have died already.
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
        return self.process.wait()

    def abort(self) -> None:
        """Stop gpg now (after a failure of ours) and reap it."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()

    def close(self) -> None:
        """Release the pipes and the log file."""
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None and not pipe.closed:
                with contextlib.suppress(BrokenPipeError):
                    pipe.close()
        self.log.close()


def _start(home: Path, args: list[str], *, stdin: int | IO[bytes]) -> GpgStream:
    log = tempfile.TemporaryFile(dir=home)  # noqa: SIM115 - GpgStream.close() closes it
    try:
        process = subprocess.Popen(  # noqa: S603 - a fixed gpg command line; no shell, no user words
            [gpg_binary(), "--homedir", str(home), *COMMON, *args],
            stdin=stdin,
            stdout=subprocess.PIPE,
            env={**os.environ, "LC_ALL": "C"},  # gpg's complaints in English, as we match and show them
            stderr=log,
            bufsize=0,
        )
    except BaseException:
        log.close()
        raise
    return GpgStream(process, log)


def start_encrypt(home: Path, recipients: Sequence[str]) -> GpgStream:
    """gpg encrypting its stdin to ``recipients`` (armored public keys) onto its stdout.

    ``--recipient-file`` takes each key straight from a file: no keyring import, no trust database.
    No compression (``-z 0``): sealed blobs are ciphertext and do not compress, and zlib would cost
    more time than the whole rest of the backup.
    """
    if not recipients:
        raise BackupError("no backup recipient keys: an archive must be encrypted to at least one key")
    args = ["--yes", "--trust-model", "always", "--compress-algo", "none", "-z", "0", "--encrypt"]
    for number, armored in enumerate(recipients):
        path = _write_private(home / f"recipient-{number}.asc", armored.encode("ascii"))
        args += ["--recipient-file", str(path)]
    return _start(home, args, stdin=subprocess.PIPE)


def import_secret_keys(home: Path, secret_keys: Sequence[str]) -> None:
    """Import armored, unprotected secret keys into ``home`` for decryption."""
    if not secret_keys:
        raise WrongBackupKey("no secret key was given to open the archive")
    for armored in secret_keys:
        result = subprocess.run(  # noqa: S603 - a fixed gpg command line; no shell, no user words
            [gpg_binary(), "--homedir", str(home), *COMMON, "--import"],
            input=armored.encode("ascii", "replace"),
            capture_output=True,
            timeout=IMPORT_TIMEOUT,
            check=False,
        )
        if result.returncode != 0 or b"IMPORT_OK" not in result.stderr:
            raise WrongBackupKey("a backup secret key could not be read by gpg; is it an armored secret key?")


def start_decrypt(home: Path, source: IO[bytes]) -> GpgStream:
    """gpg decrypting ``source`` (an open file) onto its stdout, with the keys imported into ``home``."""
    args = ["--pinentry-mode", "loopback", "--passphrase", "", "--decrypt"]
    return _start(home, args, stdin=source)


def check_encrypted(stream: GpgStream, returncode: int) -> None:
    """Raise unless gpg finished the encryption cleanly."""
    status = stream.status()
    if "INV_RECP" in status or "INV_SGNR" in status:
        raise BackupError(
            f"gpg refused a backup recipient key ({stream.complaint()}); check BACKUP_RECIPIENTS"
        )
    if returncode != 0 or "END_ENCRYPTION" not in status:
        raise BackupError(f"gpg could not encrypt the archive: {stream.complaint()}")


def decryption_failure(stream: GpgStream, returncode: int) -> BackupError | None:
    """What went wrong with a finished decryption, or None if gpg decrypted it and its integrity holds.

    The integrity check (MDC) comes at the very end of the stream, after gpg already wrote the
    plaintext out, so success needs a zero exit *and* ``DECRYPTION_OKAY`` and ``GOODMDC``.
    """
    status = stream.status()
    # NO_SECKEY is not always emitted (not when the home holds some other secret key), but the
    # session key was never opened (no DECRYPTION_KEY) and gpg says why (its messages are in C locale).
    opened = "DECRYPTION_KEY" in status or "PLAINTEXT" in status
    if not opened and ("NO_SECKEY" in status or "No secret key" in stream.complaint()):
        key_ids = ", ".join(sorted({line.split()[0] for line in status.get("ENC_TO", []) if line}))
        return WrongBackupKey(
            "this archive was not encrypted to the key you gave; it was encrypted to "
            f"{key_ids or 'keys gpg could not name'} (compare: gpg --list-keys --keyid-format long)"
        )
    if "NODATA" in status or ("ENC_TO" not in status and "BEGIN_DECRYPTION" not in status):
        return NotAnArchive(
            "this file is not an OpenPGP-encrypted Bastion archive (gpg found no message in it)"
        )
    if "BADMDC" in status:
        return CorruptArchive(
            "the archive failed gpg's integrity check: it is damaged, truncated or was altered; "
            "use another copy"
        )
    if returncode != 0 or "DECRYPTION_OKAY" not in status or "GOODMDC" not in status:
        return CorruptArchive(
            f"gpg could not decrypt the whole archive ({stream.complaint()}): it is damaged or truncated; "
            "use another copy"
        )
    return None
