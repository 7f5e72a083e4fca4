"""The worker's own periodic jobs."""

from __future__ import annotations

from datetime import timedelta

from django_tasks import task

from bastion.worker.scheduler import periodic
from bastion.worker.sweeper import requeue_stale_tasks


@periodic(every=timedelta(minutes=1))
@task()
def sweep_stale_tasks() -> int:
    """Re-queue tasks left RUNNING by dead workers. Idempotent: a second sweep finds nothing."""
    return requeue_stale_tasks()
