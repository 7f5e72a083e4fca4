"""Worker liveness (heartbeats) and the sweeper that re-queues tasks orphaned by a dead worker.

django-tasks-db marks a task RUNNING when a worker claims it and never looks at it again, so a
worker killed mid-task (OOM, kill -9, power loss) leaves the task RUNNING forever. Each
``bastion worker`` therefore keeps a ``WorkerHeartbeat`` row fresh from a background thread, and
the sweeper puts a RUNNING task back to READY when the worker that last claimed it is dead:

- its heartbeat is older than ``WORKER_STALE_SECONDS``, or
- it ran on this machine, in this PID namespace, and its process no longer exists (a fast path:
  after a crash, the next worker to start recovers the task at once instead of after the timeout).

The race, and why it is acceptable: a worker that is alive but whose heartbeat thread is starved
for longer than ``WORKER_STALE_SECONDS`` (process stopped with SIGSTOP, VM paused, database locked
for minutes) looks dead. The sweeper re-queues its task, another worker runs it, and when the
first one wakes it finishes too: the task runs twice. The heartbeat lives in its own thread, so a
merely *long* task never looks dead, and tasks are idempotent (queue.py), so a double run is
harmless. Heartbeats use each machine's clock, so keep the workers' clocks in sync (NTP); skew
shorter than ``WORKER_STALE_SECONDS`` is harmless.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import socket
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from bastion.worker.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

# A task whose workers keep dying under it (a segfault, an OOM on a huge input) is failed after
# this many claims instead of being handed to worker after worker forever.
MAX_CLAIMS = 5
# Dead heartbeats are kept this long for whoever investigates the crash, then pruned.
HEARTBEAT_RETENTION = timedelta(days=1)


class WorkerLost(Exception):
    """Recorded as the error of a task failed because its workers kept dying under it."""


@functools.cache
def host_key() -> str:
    """Names the place where a pid identifies one process: this boot of this host, this PID namespace.

    Two containers can share a host name and a database but not a PID space; without the namespace
    one worker could see another's pid as missing and wrongly declare it dead. Where the namespace
    cannot be read (not Linux), the key is unique to this process, so the pid fast path never
    applies and only the heartbeat timeout does.
    """
    try:
        boot_id = Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
        namespace = os.stat("/proc/self/ns/pid").st_ino
    except OSError:
        return f"{socket.gethostname()[:180]}:pid-{os.getpid()}-{os.urandom(8).hex()}"
    digest = hashlib.sha256(f"{boot_id}:{namespace}".encode()).hexdigest()[:16]
    return f"{socket.gethostname()[:180]}:{digest}"


def process_exists(pid: int) -> bool:
    """Whether a process with this pid exists here (signal 0 checks without signalling)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def beat(worker_id: str, *, now: datetime | None = None) -> None:
    """Record that this worker process is alive."""
    now = now or timezone.now()
    WorkerHeartbeat.objects.update_or_create(
        worker_id=worker_id,
        defaults={"last_seen": now, "host": host_key(), "pid": os.getpid()},
        create_defaults={"last_seen": now, "host": host_key(), "pid": os.getpid(), "started_at": now},
    )


def forget(worker_id: str) -> None:
    """Remove a worker's heartbeat when it stops cleanly (its current task has finished)."""
    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def release_tasks_of(worker_id: str) -> int:
    """Re-queue the RUNNING tasks last claimed by ``worker_id``, a worker that is stopping.

    Called once the worker's task loop has ended, so none of these is really running: it is the
    task a signal interrupted between being claimed and being started. Without this it would wait
    ``WORKER_STALE_SECONDS`` for the sweeper.
    """
    now = timezone.now()
    running = DBTaskResult.objects.running().only("id", "task_path", "worker_ids", "started_at")
    return sum(_release(task, now=now) for task in running if task.worker_ids[-1:] == [worker_id])


def is_dead(heartbeat: WorkerHeartbeat | None, *, cutoff: datetime) -> bool:
    """Whether the worker behind ``heartbeat`` is gone, by timeout or by a missing local process."""
    if heartbeat is None:
        return True
    if heartbeat.last_seen < cutoff:
        return True
    return heartbeat.host == host_key() and not process_exists(heartbeat.pid)


def requeue_stale_tasks(*, now: datetime | None = None, stale_after: timedelta | None = None) -> int:
    """Put RUNNING tasks whose worker is dead back to READY; return how many were re-queued.

    Idempotent: a second sweep finds nothing more to do.
    """
    now = now or timezone.now()
    stale_after = stale_after or timedelta(seconds=settings.WORKER_STALE_SECONDS)
    cutoff = now - stale_after
    running = list(DBTaskResult.objects.running().only("id", "task_path", "worker_ids", "started_at"))
    last_workers = {task.worker_ids[-1] for task in running if task.worker_ids}
    heartbeats = {hb.worker_id: hb for hb in WorkerHeartbeat.objects.filter(worker_id__in=last_workers)}
    requeued = 0
    for task in running:
        worker_id = task.worker_ids[-1] if task.worker_ids else None
        heartbeat = heartbeats.get(worker_id) if worker_id else None
        # Without any heartbeat (a plain `db_worker`, or a dead worker whose heartbeat was pruned),
        # the task's own start time is the only clock we have.
        if heartbeat is None and task.started_at is not None and task.started_at >= cutoff:
            continue
        if not is_dead(heartbeat, cutoff=cutoff):
            continue
        requeued += _release(task, now=now)
    WorkerHeartbeat.objects.filter(last_seen__lt=now - HEARTBEAT_RETENTION).delete()
    return requeued


def _release(task: DBTaskResult, *, now: datetime) -> int:
    """Re-queue (or, after too many lost workers, fail) one orphaned task; 1 if this sweep did it.

    Conditional on the status and start time we read, so it cannot undo a claim or a finish that
    happened since: two sweepers racing release a task once, and a task a new worker has just
    claimed keeps running.
    """
    still_orphaned = DBTaskResult.objects.filter(
        pk=task.pk, status=TaskResultStatus.RUNNING, started_at=task.started_at
    )
    if len(task.worker_ids) >= MAX_CLAIMS:
        failed = still_orphaned.update(
            status=TaskResultStatus.FAILED,
            finished_at=now,
            exception_class_path=f"{WorkerLost.__module__}.{WorkerLost.__qualname__}",
            traceback=f"{len(task.worker_ids)} workers died while running this task.",
        )
        if failed:
            logger.error(
                "Task %s (%s) failed: %d workers died running it", task.pk, task.task_path, MAX_CLAIMS
            )
        return 0
    requeued = still_orphaned.update(status=TaskResultStatus.READY)
    if requeued:
        logger.warning("Re-queued task %s (%s) left RUNNING by a departed worker", task.pk, task.task_path)
    return requeued
