"""``bastion thanks import FILE``: add past Hall of Thanks entries from a text or CSV file.

The format is the admin import page's (see :mod:`bastion.disclosure.services.thanks`): lines
``year,name[,link]``, or a ``# 2019`` heading followed by one name per line. All or nothing: if any
line is bad, every bad line is printed with its number and nothing is imported, so the fixed file
can simply be imported again. Names already thanked for a year are skipped and counted. ``FILE``
may be ``-`` for standard input. The audit trail records Bastion (``bastion thanks``) as the actor.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from bastion.audit.events import ActorKind
from bastion.audit.services import Actor
from bastion.disclosure.services.thanks import ThanksRejected, import_thanks

CLI_ACTOR = Actor(kind=ActorKind.SYSTEM, label="system (bastion thanks)")


class Command(BaseCommand):
    help = "Import past Hall of Thanks entries: thanks import FILE ('year,name[,link]' or '# year' lines)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="import")
        importing = actions.add_parser("import", help="import entries from FILE ('-' for standard input)")
        importing.add_argument("file", help="a UTF-8 text or CSV file, or - for standard input")

    def handle(self, *args: Any, **options: Any) -> None:
        text = self._read(options["file"])
        try:
            result = import_thanks(text=text, actor=CLI_ACTOR)
        except ThanksRejected as error:
            for problem in error.problems:
                self.stderr.write(f"line {problem.line}: {problem.message}  [{problem.text[:80]}]")
            raise CommandError(error.messages[0]) from None
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        years = ", ".join(str(year) for year in result.years)
        skipped = f"; {result.duplicates} already thanked, skipped" if result.duplicates else ""
        self.stdout.write(f"Imported {result.imported} name(s) into the Hall of Thanks ({years}){skipped}.")

    def _read(self, name: str) -> str:
        """The file's text (UTF-8, a BOM allowed); a CommandError that says what to do otherwise."""
        try:
            raw = sys.stdin.buffer.read() if name == "-" else Path(name).read_bytes()
        except OSError as error:
            raise CommandError(
                f"Cannot read {name}: {error.strerror}. Check the path; nothing was imported."
            ) from None
        try:
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise CommandError(
                f"{name} is not UTF-8 text: save it as UTF-8 and try again; nothing was imported."
            ) from None
