"""Periodic jobs: a registry filled by ``@periodic`` and a ``tick`` that enqueues the due ones.

An app declares a periodic job in its ``tasks`` module (every installed app's ``tasks`` module is
imported before a tick, so the registry is complete)::

    @periodic(every=timedelta(hours=24))
    @task()
    def renew_security_txt() -> None: ...

Each ``bastion worker`` ticks every ``WORKER_POLL_SECONDS``; several workers may tick at once and a
due job is still enqueued once (see ``claim_due_job``). Periodic tasks take no arguments and, like
all tasks, must be idempotent.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django_tasks.base import Task

from bastion.worker.models import ScheduledJob

logger = logging.getLogger(__name__)

TaskT = TypeVar("TaskT", bound=Task[Any, Any])

# Below this the tick (once per poll interval) could not keep up anyway.
MIN_INTERVAL = timedelta(seconds=10)


@dataclass(frozen=True)
class PeriodicJob:
    """A task and how often it runs; the task's dotted path names its ``ScheduledJob`` row."""

    task: Task[Any, Any]
    every: timedelta

    @property
    def name(self) -> str:
        return self.task.module_path


_registry: dict[str, PeriodicJob] = {}


def register_periodic(task: Task[Any, Any], *, every: timedelta) -> None:
    """Run ``task`` (which takes no arguments) every ``every``, starting at the next tick."""
    if not isinstance(task, Task):
        raise TypeError("register_periodic() takes a task (apply @periodic above @task)")
    if every < MIN_INTERVAL:
        raise ValueError(f"{task.module_path}: periodic jobs run at most every {MIN_INTERVAL}")
    parameters = list(inspect.signature(task.func).parameters.values())
    if task.takes_context:
        parameters = parameters[1:]
    if any(
        p.default is inspect.Parameter.empty and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        for p in parameters
    ):
        raise TypeError(f"{task.module_path}: a periodic task is called with no arguments")
    job = PeriodicJob(task=task, every=every)
    known = _registry.get(job.name)
    if known is not None and known.every != every:
        raise ValueError(f"{job.name} is already registered to run every {known.every}")
    _registry[job.name] = job


def periodic(*, every: timedelta) -> Callable[[TaskT], TaskT]:
    """Decorator form of ``register_periodic``; put it above ``@task``."""

    def decorate(task: TaskT) -> TaskT:
        register_periodic(task, every=every)
        return task

    return decorate


def registered_jobs() -> dict[str, PeriodicJob]:
    """Every periodic job, after importing each installed app's ``tasks`` module."""
    autodiscover_modules("tasks")
    return dict(_registry)


def next_due(previous: datetime, every: timedelta, now: datetime) -> datetime:
    """The first time after ``now`` on the grid ``previous + k * every``.

    Staying on the grid keeps a job from drifting by a tick each run, and skipping the missed
    slots means a worker that was down for a day runs a job once, not once per missed slot.
    """
    missed = (now - previous) // every
    return previous + (missed + 1) * every


def claim_due_job(row: ScheduledJob, *, job: PeriodicJob, now: datetime) -> bool:
    """Move the job's ``next_run_at`` on and enqueue it, if no other tick got there first.

    The claim is a conditional UPDATE (``WHERE next_run_at = <the value we read>``): of two racing
    ticks, the second finds the row changed and updates nothing. On PostgreSQL the second UPDATE
    waits for the first's row lock and then re-checks the condition; on SQLite the IMMEDIATE
    transaction serialises the writers. No SELECT FOR UPDATE is needed on either.

    The task is enqueued inside the same transaction as the claim, not on commit: with the
    database task backend the task row commits or rolls back together with the claim, so a crash
    between the two can neither lose a run nor enqueue one twice.
    """
    with transaction.atomic():
        claimed = ScheduledJob.objects.filter(pk=row.pk, next_run_at=row.next_run_at).update(
            last_run_at=now, next_run_at=next_due(row.next_run_at, job.every, now)
        )
        if claimed:
            job.task.enqueue()
    return bool(claimed)


def tick(now: datetime | None = None) -> list[str]:
    """Enqueue every registered job that is due at ``now``; return the names enqueued."""
    now = now or timezone.now()
    jobs = registered_jobs()
    if not jobs:
        return []
    rows = _sync_rows(jobs, now)
    enqueued = []
    for name, row in sorted(rows.items()):
        if row.next_run_at <= now and claim_due_job(row, job=jobs[name], now=now):
            logger.info("Enqueued periodic job %s", name)
            enqueued.append(name)
    return enqueued


def _sync_rows(jobs: dict[str, PeriodicJob], now: datetime) -> dict[str, ScheduledJob]:
    """The ``ScheduledJob`` rows for ``jobs``, creating or adjusting them only when needed.

    This runs every poll interval in every worker, so the common path is one SELECT: a no-op
    UPDATE or INSERT would still take SQLite's write lock each time.
    """
    rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=jobs)}
    missing = [
        ScheduledJob(name=name, every=job.every, next_run_at=now)
        for name, job in jobs.items()
        if name not in rows
    ]
    if missing:
        # ignore_conflicts: another worker's tick may be creating the same rows right now.
        ScheduledJob.objects.bulk_create(missing, ignore_conflicts=True)
        rows = {row.name: row for row in ScheduledJob.objects.filter(name__in=jobs)}
    for name, row in rows.items():
        every = jobs[name].every
        if row.every != every:
            # The interval changed in code: don't make a now-shorter job wait out the old interval.
            ScheduledJob.objects.filter(pk=row.pk, every=row.every).update(
                every=every, next_run_at=min(row.next_run_at, now + every)
            )
            row.refresh_from_db()
    return rows
