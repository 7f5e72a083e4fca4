"""``bastion restore ARCHIVE``: bring an archive back into an empty data dir and database.

The archive is decrypted and checked against its manifest in scratch space first, so a corrupt,
truncated or foreign archive changes nothing. It refuses to overwrite live data without
``--force``. Afterwards the shred ledger (kept beside the master key, never in archives) is
re-applied, so reports shredded after the archive was made stay shredded.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError

from bastion.audit.services import Actor
from bastion.reports.services.backups import restore_backup
from bastion.vault.backup.archive import BackupError
from bastion.vault.errors import VaultError


class Command(BaseCommand):
    help = "Restore a backup archive (.tar.gpg) into an empty data dir and database."
    # The database may be empty or absent: checks that query it would fail before we start.
    requires_system_checks: list[str] = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="The archive file (bastion-….tar.gpg).")
        parser.add_argument(
            "--secret-key",
            type=Path,
            action="append",
            default=[],
            help="An armored OpenPGP secret key the archive was encrypted to (repeatable). Without it, "
            "the restore-drill key kept beside the master key is used.",
        )
        parser.add_argument(
            "--force", action="store_true", help="Replace the data this instance already holds."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Restore, then say what came back."""
        archive: Path = options["archive"]
        if not archive.is_file():
            raise CommandError(f"no archive at {archive}")
        keys = []
        for path in options["secret_key"]:
            try:
                keys.append(path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError) as error:
                raise CommandError(f"cannot read the secret key {path}: {error}") from error
        try:
            outcome = restore_backup(
                archive=archive, actor=Actor.system(), force=options["force"], secret_keys=keys
            )
        except BackupError as error:
            self.stderr.write(f"Restore refused: {error}")
            sys.exit(1)
        except (OSError, VaultError, DatabaseError) as error:
            self.stderr.write(f"Restore failed: {type(error).__name__}: {error}")
            sys.exit(1)
        manifest = outcome.manifest
        self.stdout.write(
            f"Restored {archive.name}, made {manifest.created_at} by Bastion {manifest.bastion_version}."
        )
        for name, count in sorted(manifest.counts.items()):
            self.stdout.write(f"  {name}: {count:,}")
        if outcome.reshredded:
            self.stdout.write(f"  re-shredded from the ledger: {outcome.reshredded}")
