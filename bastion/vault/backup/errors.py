"""What goes wrong with backups, in words an operator can act on (never plaintext, never key material)."""

from __future__ import annotations


class BackupError(Exception):
    """Base class: a backup or restore could not be done; the message says why and what to do."""


class GpgMissing(BackupError):
    """The ``gpg`` (or ``gpgconf``) binary is not installed."""


class WrongBackupKey(BackupError):
    """None of the secret keys given can open the archive."""


class CorruptArchive(BackupError):
    """The archive is damaged, truncated, tampered with, or holds something we never write."""


class NotAnArchive(CorruptArchive):
    """The file is not an OpenPGP message at all (a wrong file, or one damaged from its first byte)."""


class NewerArchive(BackupError):
    """The archive was made by a newer Bastion, in a format this one cannot read."""


class PostgresToolMissing(BackupError):
    """``pg_dump``, ``pg_restore`` or ``psql`` is not installed."""
