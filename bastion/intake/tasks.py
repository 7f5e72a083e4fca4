"""Intake's periodic jobs: forgetting flood counters and spent challenges once they can't matter."""

from __future__ import annotations

from dataclasses import asdict
from datetime import timedelta

from django.conf import settings
from django_tasks import task

from bastion.intake.challenge import prune_used_challenges
from bastion.intake.flood import prune_flood_counters
from bastion.worker.scheduler import periodic, register_periodic


@periodic(every=timedelta(hours=1))
@task()
def prune_intake_counters() -> int:
    """Delete flood counters of past windows and expired spent challenges. Idempotent.

    Hourly is enough: stale rows are never read (lookups are by the current window), they only
    take space, and at most one hour's worth of them exists at a time.
    """
    return prune_flood_counters() + prune_used_challenges()


@task()
def poll_imap_mailbox() -> dict[str, int]:
    """Receive the mail waiting in the IMAP mailbox (``BASTION_IMAP_*``); counts by outcome.

    Idempotent: a message is moved away (or flagged) only after it committed, and one offered again
    after a crash in between is recognised by its Message-ID. Two polls at once may both offer the
    same message; the core stores it once and the second move finds it gone.
    """
    # Imported here: the core it calls imports much of Bastion, some of which enqueues intake tasks.
    from bastion.intake.mail.imap import poll_mailbox

    return asdict(poll_mailbox())


def schedule_imap_poll() -> bool:
    """Register the poll with the scheduler when a mailbox is configured; whether it was."""
    if not settings.IMAP_HOST:
        return False
    register_periodic(poll_imap_mailbox, every=timedelta(seconds=settings.IMAP_POLL_SECONDS))
    return True


schedule_imap_poll()
