"""``bastion shred TRACKING_ID``: destroy one report's content for good, from the command line.

For an operator acting on a request that did not come through the portal (a legal demand, a
report filed by mistake). The report's data key is shredded (the shred ledger first, so restoring
an older backup cannot bring it back), its files are deleted, and the audit trail records Bastion
(``bastion shred``) as the actor with the reason ``operator``. It asks before it destroys anything
unless ``--yes`` is given; without a terminal to ask on, ``--yes`` is required.

``bastion shred --apply-ledger`` re-applies the whole shred ledger now: the last step of a restore
done by hand (``gpg --decrypt`` and the README's steps). The worker also does it every ten minutes.
"""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from bastion.audit.events import ActorKind
from bastion.audit.services import Actor
from bastion.reports.identifiers import normalize_tracking_id
from bastion.reports.models import Report
from bastion.reports.services import ShredReason, enforce_shred_ledger, shred_report, tombstone

CLI_ACTOR = Actor(kind=ActorKind.SYSTEM, label="system (bastion shred)")


class Command(BaseCommand):
    help = "Destroy a report's content (crypto-shred its data key). It cannot be undone."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("tracking_id", nargs="?", help="the report's tracking ID, e.g. BST-7Q2M0XK4ZD")
        parser.add_argument(
            "--apply-ledger",
            action="store_true",
            help="re-apply the shred ledger to this database (after restoring a backup by hand)",
        )
        parser.add_argument(
            "--reason",
            default="",
            help="a short note for the audit trail (e.g. a ticket number); never the report's content",
        )
        parser.add_argument("--yes", action="store_true", help="do not ask for confirmation")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["apply_ledger"]:
            destroyed = enforce_shred_ledger(actor=CLI_ACTOR)
            self.stdout.write(f"Shred ledger applied: {destroyed} report key(s) destroyed again.")
            return
        typed: str | None = options["tracking_id"]
        if not typed:
            raise CommandError("Give a tracking ID to shred, or --apply-ledger.")
        normalized = normalize_tracking_id(typed)
        report = (
            Report.objects.select_related("data_key", "reporter").filter(tracking_id=normalized).first()
            if normalized
            else None
        )
        if report is None:
            raise CommandError(
                f"No report has the tracking ID {typed!r}. Check it against the inbox "
                "(tracking IDs look like BST-7Q2M0XK4ZD); nothing was destroyed."
            )
        grave = tombstone(report)
        if grave is not None:
            when = f"{grave.destroyed_at:%Y-%m-%d %H:%M} UTC"
            reason = f" ({grave.reason})" if grave.reason else ""
            self.stdout.write(f"{report.tracking_id}: its content was already destroyed on {when}{reason}.")
            return
        if not options["yes"]:
            self._confirm(report)
        shred_report(report=report, actor=CLI_ACTOR, why=ShredReason.OPERATOR, note=options["reason"])
        self.stdout.write(
            f"{report.tracking_id}: content destroyed. Its data key is shredded and recorded in the shred "
            "ledger, so restoring an older backup will not bring it back."
        )

    def _confirm(self, report: Report) -> None:
        if not sys.stdin.isatty():
            raise CommandError(
                "Refusing to destroy a report without confirmation: stdin is not a terminal. "
                "Run it again with --yes if you are sure."
            )
        self.stdout.write(
            f"This destroys the content of {report.tracking_id} ({report.get_status_display()}, received "
            f"{report.received_at:%Y-%m-%d}): its text, conversation, files and the reporter's details. "
            "It cannot be undone."
        )
        answer = input(f"Type {report.tracking_id} to confirm: ")
        if normalize_tracking_id(answer) != report.tracking_id:
            raise CommandError("Not confirmed; nothing was destroyed.")
