"""``bastion worker``: run background tasks, periodic jobs, heartbeats and the stale-task sweeper.

The task loop is django-tasks-db's own ``Worker`` (claiming, running and recording tasks is theirs).
Beside it, a "pulse" thread keeps this worker's heartbeat fresh and ticks the scheduler, so neither
stops while a long task runs. SIGTERM or SIGINT lets the current task finish and exits 0; a second
signal stops at once (the upstream ``Worker`` behaviour).
"""

from __future__ import annotations

import logging
import threading
import time
from argparse import ArgumentParser
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import close_old_connections, connections
from django.utils.crypto import get_random_string
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, task_backends
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.management.commands.db_worker import Worker, valid_max_tasks, validate_worker_id

from bastion.worker.scheduler import tick
from bastion.worker.sweeper import beat, forget, release_tasks_of, requeue_stale_tasks

logger = logging.getLogger(__name__)

# After a failed heartbeat or tick, try again this soon rather than after a full interval.
RETRY_AFTER_ERROR_SECONDS = 1.0


class Pulse(threading.Thread):
    """Refreshes the heartbeat and ticks the scheduler until stopped.

    A daemon thread: if the main thread dies hard, this one must not keep the process (and its
    heartbeat) alive, or the sweeper would never recover the dead worker's task.
    """

    def __init__(self, worker_id: str, *, beat_every: float, tick_every: float) -> None:
        super().__init__(name="bastion-worker-pulse", daemon=True)
        self.worker_id = worker_id
        self.beat_every = beat_every
        self.tick_every = tick_every
        self.stopping = threading.Event()

    def run(self) -> None:
        # The command beat and ticked once just before starting this thread.
        next_beat = time.monotonic() + self.beat_every
        next_tick = time.monotonic() + self.tick_every
        try:
            while not self.stopping.is_set():
                close_old_connections()
                now = time.monotonic()
                try:
                    if now >= next_beat:
                        beat(self.worker_id)
                        next_beat = now + self.beat_every
                    if now >= next_tick:
                        tick()
                        next_tick = now + self.tick_every
                except Exception:
                    # A locked or restarting database must not end the heartbeat for good; the
                    # next round tries again. (The error is a database or scheduler one: no content.)
                    logger.exception("Worker heartbeat or scheduler tick failed; retrying")
                    next_beat = next_tick = now + RETRY_AFTER_ERROR_SECONDS
                self.stopping.wait(max(0.0, min(next_beat, next_tick) - time.monotonic()))
        finally:
            # This thread's own connections; the main thread's are closed by the command.
            connections.close_all()

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=10)


class Command(BaseCommand):
    help = "Run the background worker: tasks, periodic jobs, heartbeats and the stale-task sweeper."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument(
            "--queue-name",
            default="*",
            help="Queues to process, comma-separated; '*' for all (default: all).",
        )
        parser.add_argument(
            "--worker-id",
            type=validate_worker_id,
            default=None,
            help="This worker's id, unique across the pool (default: random).",
        )
        parser.add_argument("--batch", action="store_true", help="Run the tasks that are ready, then exit.")
        parser.add_argument(
            "--max-tasks", type=valid_max_tasks, default=None, help="Exit after this many tasks."
        )

    def handle(
        self, *, queue_name: str, worker_id: str | None, batch: bool, max_tasks: int | None, **options: Any
    ) -> None:
        if not isinstance(task_backends[DEFAULT_TASK_BACKEND_ALIAS], DatabaseBackend):
            raise CommandError("The worker needs the database task backend: unset BASTION_TASKS_BACKEND.")
        worker_id = worker_id or get_random_string(32)
        worker = Worker(
            queue_names=queue_name.split(","),
            interval=settings.WORKER_POLL_SECONDS,
            batch=batch,
            backend_name=DEFAULT_TASK_BACKEND_ALIAS,
            startup_delay=False,
            max_tasks=max_tasks,
            worker_id=worker_id,
            excluded_queue_names=[],
        )
        # Heartbeat first, so no sweeper (ours or another worker's) ever sees our tasks without one.
        beat(worker_id)
        requeued = requeue_stale_tasks()
        if requeued:
            logger.warning("Re-queued %d task(s) left RUNNING by dead workers", requeued)
        tick()
        # The heartbeat comes several times per stale period, so one slow beat is never fatal.
        pulse = Pulse(
            worker_id,
            beat_every=max(1.0, settings.WORKER_STALE_SECONDS / 5),
            tick_every=settings.WORKER_POLL_SECONDS,
        )
        pulse.start()
        worker.configure_signals()
        try:
            # On a signal between tasks, the upstream handler raises SystemExit(0) out of here;
            # during a task, it lets the task finish and the loop end.
            worker.run()
        finally:
            worker.reset_signals()
            pulse.stop()
            release_tasks_of(worker_id)
            forget(worker_id)
            logger.info("Worker %s stopped", worker_id)
