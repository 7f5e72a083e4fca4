"""The worker's own bookkeeping: which periodic jobs ran when, and which worker processes are alive.

Task rows themselves belong to django-tasks-db (``DBTaskResult``); nothing here duplicates them.
"""

from __future__ import annotations

from django.db import models


class ScheduledJob(models.Model):
    """One periodic job and its next due time.

    The row is the claim token for the scheduler tick: a tick enqueues the job only if it moves
    ``next_run_at`` forward from the value it read, so two racing ticks enqueue it once (see
    ``scheduler.claim_due_job``).
    """

    # The task's dotted path (``Task.module_path``): stable across restarts and unique per task.
    name = models.CharField(max_length=255, unique=True)
    every = models.DurationField()
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_run_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["next_run_at"]

    def __str__(self) -> str:
        return self.name


class WorkerHeartbeat(models.Model):
    """A worker process's liveness signal, refreshed by a thread while the process lives.

    The sweeper treats a RUNNING task as orphaned when the worker that last claimed it has no fresh
    heartbeat (or, on the same machine, when its process no longer exists).
    """

    # django-tasks-db's worker id, as recorded in ``DBTaskResult.worker_ids`` (at most 64 chars).
    worker_id = models.CharField(max_length=64, unique=True)
    # Identifies the machine *and* PID namespace, so a pid is only ever checked where it means
    # the same process (see ``sweeper.host_key``).
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    last_seen = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return self.worker_id
