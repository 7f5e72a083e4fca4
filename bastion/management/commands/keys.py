"""``bastion keys status | rotate | retire``: the master key versions, their rotation and retirement."""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from bastion.audit.events import ActorKind, Event
from bastion.audit.services import Actor, record
from bastion.vault.errors import VaultError
from bastion.vault.keyring import KeyStatus, key_status, retire_versions
from bastion.vault.rotation import rotate

# Who acted, in the audit trail: an operator at the command line, not a scheduled task.
CLI_ACTOR = Actor(kind=ActorKind.SYSTEM, label="cli")
BAR_WIDTH = 30


class ProgressBar:
    """``[#####     ] 45,000/100,000 data keys`` on a terminal; a plain line every 10 % otherwise."""

    def __init__(self, out: Any, *, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.shown_tenths = -1
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        """Show ``done`` of ``total`` data keys rewrapped."""
        fraction = done / total if total else 1.0
        text = f"[{'#' * round(fraction * BAR_WIDTH):<{BAR_WIDTH}}] {done:,}/{total:,} data keys"
        if self.tty:
            self.out.write("\r" + text, ending="")
            self.out.flush()
            self.drawn = True
            return
        # A log file gets a line per 10 %, not one per batch (100,000 keys are 100 batches).
        tenths = int(fraction * 10)
        if tenths > self.shown_tenths:
            self.shown_tenths = tenths
            self.out.write(text)

    def finish(self) -> None:
        """End the terminal's progress line."""
        if self.tty and self.drawn:
            self.out.write("")


class Command(BaseCommand):
    """Show, rotate and retire master key versions."""

    help = (
        "Master keys: `status` shows them, `rotate` adds a version and rewraps, `retire` destroys old ones."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{status,rotate,retire}")
        status = actions.add_parser("status", help="master key versions, what uses them, the org key")
        status.add_argument("--json", action="store_true", help="machine-readable output")
        actions.add_parser("rotate", help="add a master key version and rewrap every data key (resumable)")
        retire = actions.add_parser("retire", help="destroy old master key versions nothing needs any more")
        retire.add_argument(
            "--version", type=int, dest="retire_version", metavar="N", help="only this version"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        """Run the chosen action, turning the vault's refusals into clear command errors."""
        try:
            if options["action"] == "status":
                self._status(as_json=options["json"])
            elif options["action"] == "rotate":
                self._rotate()
            else:
                self._retire(options["retire_version"])
        except (VaultError, ImproperlyConfigured, ValueError) as exc:
            raise CommandError(str(exc)) from exc

    def _status(self, *, as_json: bool) -> None:
        status = key_status()
        if as_json:
            self.stdout.write(json.dumps(status.as_dict(), indent=2))
            return
        self.stdout.write("\n".join(status_lines(status)))

    def _rotate(self) -> None:
        bar = ProgressBar(self.stderr, tty=self.stderr.isatty())
        try:
            result = rotate(progress=bar)
        finally:
            bar.finish()
        record(
            event=Event.MASTER_KEY_ROTATED,
            actor=CLI_ACTOR,
            data={
                "version": result.version,
                "resumed": result.resumed,
                "rewrapped": result.rewrapped,
                "resealed": result.resealed,
            },
        )
        how = "Resumed the interrupted rotation" if result.resumed else "Added master key version"
        resealed = ", ".join(f"{name} {count}" for name, count in result.resealed.items()) or "none"
        self.stdout.write(
            self.style.SUCCESS(
                f"{how} {result.version}: rewrapped {result.rewrapped:,} data keys; resealed {resealed}."
            )
        )
        self.stdout.write("Older versions stay until `bastion keys retire` (see `bastion keys status`).")

    def _retire(self, version: int | None) -> None:
        def audited(retired: int) -> None:
            # Its own transaction, right after the key is gone: the audit row must not wait for
            # (or be lost with) the versions after it.
            with transaction.atomic():
                record(event=Event.MASTER_KEY_RETIRED, actor=CLI_ACTOR, data={"version": retired})

        retired = retire_versions(versions=None if version is None else [version], on_retired=audited)
        if retired:
            for number in retired:
                self.stdout.write(self.style.SUCCESS(f"Retired master key version {number}."))
            return
        self.stdout.write("No master key version can be retired now.")
        for entry in key_status().versions:
            self.stdout.write(f"  v{entry.version}: {entry.blocked_by}")


def status_lines(status: KeyStatus) -> list[str]:
    """``bastion keys status`` as readable lines: a table of versions, then the org key and totals."""
    header = ("Version", "Live keys", "Destroyed", "Sealed secrets", "Archives", "Available", "Retirable")
    rows = [header]
    for entry in status.versions:
        sealed = ", ".join(f"{name} {count}" for name, count in entry.sealed_secrets.items()) or "-"
        rows.append(
            (
                f"v{entry.version}{' (current)' if entry.current else ''}",
                f"{entry.live_data_keys:,}",
                f"{entry.destroyed_data_keys:,}",
                sealed,
                str(len(entry.archives)),
                "yes" if entry.available else "NO",
                "yes" if entry.retirable else "no",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    lines = [f"Master key provider: {status.provider}"]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() for row in rows
    ]
    if not status.versions:
        lines.append("(no master key yet: one is made on first use)")
    lines.append(f"Pending rewrap: {status.pending_rewrap:,} data keys")
    org = status.org_key
    if org is None:
        lines.append("Org OpenPGP key: none yet")
    else:
        expiry = f"expires {org.expires_at:%Y-%m-%d}" if org.expires_at else "never expires"
        lines.append(f"Org OpenPGP key: {org.fingerprint}, {expiry}, sealed under v{org.master_version}")
    retirable = ", ".join(f"v{v}" for v in status.retirable) or "none"
    lines.append(f"Retirable now: {retirable}")
    lines += [f"  v{e.version} is kept: {e.blocked_by}" for e in status.versions if not e.retirable]
    return lines
