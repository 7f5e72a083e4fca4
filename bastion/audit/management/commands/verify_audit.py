"""``bastion verify-audit``: check the whole audit chain, for cron, monitoring and humans."""

from __future__ import annotations

import sys
from typing import Any

from django.core.management.base import BaseCommand

from bastion.audit.services import verify_and_record


class Command(BaseCommand):
    """Walk the audit chain; exit 0 if it is intact, 1 (naming the first bad event) if not."""

    help = "Verify the audit trail's hash chain. Exits 1 and names the first bad event if it is broken."
    # Cron and monitoring read this command's output and status: keep both about the chain alone.
    # Configuration problems are `bastion check --deploy`'s job.
    requires_system_checks: list[str] = []

    def handle(self, *args: Any, **options: Any) -> None:
        """Verify, audit the verification itself, and report through the exit status."""
        result = verify_and_record(actor=None)
        if result.ok:
            self.stdout.write(f"Audit chain intact: {result.checked} events.")
            # Print the head so an operator can keep it elsewhere: only an anchored head shows
            # events later cut off the end of the trail.
            self.stdout.write(f"Head hash: {result.head_hash}")
            return
        self.stderr.write(f"Audit chain BROKEN at event #{result.first_bad_id}: {result.reason}")
        # Not CommandError: it would prefix the message with "CommandError:". SystemExit(1) gives
        # monitoring the plain status it checks, through manage.py and the bastion CLI alike.
        sys.exit(1)
