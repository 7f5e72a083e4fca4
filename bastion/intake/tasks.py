"""Intake's periodic jobs: forgetting flood counters and spent challenges once they can't matter."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from bastion.intake.challenge import prune_used_challenges
from bastion.intake.flood import prune_flood_counters
from bastion.worker.scheduler import periodic


@periodic(every=timedelta(hours=1))
@task()
def prune_intake_counters() -> int:
    """Delete flood counters of past windows and expired spent challenges. Idempotent.

    Hourly is enough: stale rows are never read (lookups are by the current window), they only
    take space, and at most one hour's worth of them exists at a time.
    """
    return prune_flood_counters() + prune_used_challenges()
