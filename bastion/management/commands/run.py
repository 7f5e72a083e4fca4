"""``bastion run``: serve the web app, run the task worker and accept mail, as one supervised unit.

One process to start and stop keeps a small deployment simple: granian (WSGI, threads) serves
HTTP, ``bastion worker`` runs background tasks and clocks, and ``bastion lmtp`` takes security@ mail
from the MTA (unless ``BASTION_LMTP_ENABLED=0``). If any child dies, the others are stopped too and
``run`` exits non-zero, so a service manager restarts them together rather than leaving a web server
whose clocks silently stopped, or whose mail waits in the MTA's queue.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from bastion.accounts.services import issue_setup_link
from bastion.intake.services import ensure_org_key

STOP_GRACE_SECONDS = 15


class Command(BaseCommand):
    help = "Serve Bastion (granian), run its task worker and LMTP listener; stop all on Ctrl-C or SIGTERM."

    def add_arguments(self, parser: CommandParser) -> None:
        # A process per core, each with two threads: Python runs one thread at a time per process,
        # so more threads in one process only queue for its lock (measured in benchmarks/README.md).
        cores = os.cpu_count() or 1
        parser.add_argument(
            "--workers",
            type=int,
            default=cores,
            help=f"web server processes (default {cores}: one per core).",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=2,
            help="WSGI threads in each web process (default 2).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        self._refuse_unmigrated_database()
        host, port = settings.LISTEN
        setup_link = issue_setup_link(actor=None)
        # Made here, with its audit row, rather than lazily by whichever request needs it first.
        org_key, _ = ensure_org_key(actor=None)
        # The only connection this process needs is closed before forking children.
        connection.close()

        # Every command line is ours: this interpreter, fixed arguments, and a validated host/port.
        web = self._granian_command(host, port, options["workers"], options["threads"])
        children = {
            "web": subprocess.Popen(web),  # noqa: S603
            "worker": subprocess.Popen([sys.executable, "-m", "bastion.cli", "worker"]),
        }
        if settings.LMTP_ENABLED:
            # Its own process: an asyncio loop, apart from granian's threads and the worker's.
            children["lmtp"] = subprocess.Popen([sys.executable, "-m", "bastion.cli", "lmtp"])
        shown_host = f"[{host}]" if ":" in host else host
        self.stdout.write(self.style.SUCCESS(f"Bastion is running at http://{shown_host}:{port}/"))
        if settings.LMTP_ENABLED:
            mail_host, mail_port = settings.LMTP_LISTEN
            shown_mail = f"[{mail_host}]" if ":" in mail_host else mail_host
            self.stdout.write(f"Mail is accepted over LMTP at {shown_mail}:{mail_port}")
        if f"http://{shown_host}:{port}" != settings.BASE_URL:
            self.stdout.write(f"Public address: {settings.BASE_URL}/")
        if setup_link:
            self.stdout.write(
                "No staff account exists yet. Open this one-time link to create the first admin "
                f"(valid {settings.SETUP_LINK_HOURS} h):\n  {setup_link}"
            )
        self.stdout.write(f"Org OpenPGP key: {org_key.fingerprint}")
        self.stdout.write("Press Ctrl-C to stop.")
        code = self._supervise(children)
        if code:
            raise CommandError("a Bastion process stopped unexpectedly; all were shut down", returncode=code)

    def _refuse_unmigrated_database(self) -> None:
        executor = MigrationExecutor(connection)
        if executor.migration_plan(executor.loader.graph.leaf_nodes()):
            raise CommandError("The database needs migrating first: run `bastion migrate` (or `make run`).")

    @staticmethod
    def _granian_command(host: str, port: int, workers: int, threads: int) -> list[str]:
        return [
            sys.executable,
            "-m",
            "granian",
            "--interface",
            "wsgi",
            "--host",
            host,
            "--port",
            str(port),
            "--workers",
            str(workers),
            "--blocking-threads",
            str(threads),
            "--no-ws",
            "--log-level",
            "warning",
            "bastion.wsgi:application",
        ]

    def _supervise(self, children: dict[str, subprocess.Popen[bytes]]) -> int:
        """Wait until a stop signal or a child's exit, then stop every child; return the exit code."""
        stopping = False

        def request_stop(signum: int, frame: FrameType | None) -> None:
            nonlocal stopping
            stopping = True

        previous = {sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            exited: str | None = None
            while not stopping and exited is None:
                exited = next((name for name, child in children.items() if child.poll() is not None), None)
                time.sleep(0.2)
            if exited:
                self.stderr.write(f"The {exited} process exited with code {children[exited].returncode}.")
            else:
                self.stdout.write("Stopping Bastion ...")
            _stop_all(children.values())
            return 1 if exited else 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def _stop_all(children: Any) -> None:
    """SIGTERM every child, give them time to finish their current request or task, then kill."""
    running = [child for child in children if child.poll() is None]
    for child in running:
        child.terminate()
    deadline = time.monotonic() + STOP_GRACE_SECONDS
    for child in running:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
