"""Putting work on the queue: with the commit, only ids, and with retries for flaky I/O.

Every task in Bastion must be **idempotent**: running it twice with the same arguments has the same
effect as running it once. The machinery here relies on that in three places: a retry may follow an
attempt that got half-way, the sweeper re-queues a task whose worker vanished mid-run, and a
slow-but-alive worker may finish a task that the sweeper already handed to another worker. Tasks
achieve it by loading the object by id and checking its state first ("already sent? stop").
"""

from __future__ import annotations

import functools
import inspect
import logging
import random
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any, ParamSpec, TypeVar

from django.db import connections, router, transaction
from django.db.models import Model
from django.utils import timezone
from django_tasks import DEFAULT_TASK_BACKEND_ALIAS, DEFAULT_TASK_QUEUE_NAME, task
from django_tasks.base import Task
from django_tasks_db.backend import DatabaseBackend
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

# Ids are ints, UUIDs or short slugs/tracking ids. Anything longer is likely content (a subject, a
# body, an address list), which must never sit in a task row (DESIGN.md §5: pass ids, not content).
MAX_STRING_ARGUMENT = 64
# The retry attempt number travels as this keyword argument of the re-enqueued task.
ATTEMPT_KWARG = "_attempt"
# Up to +10 % on each delay, so tasks that failed together (the SMTP relay was down) do not all
# come back in the same second.
JITTER = 0.1


def _id_only(value: object, where: str) -> object:
    """``value`` in JSON-ready form if it is an id or a short scalar; otherwise raise.

    The error names the argument's position and type, never its value: the value may be content.
    """
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, uuid.UUID):
        # The task receives str(uuid): task rows are JSON, and django-tasks rejects UUID objects.
        return str(value)
    if isinstance(value, str):
        if len(value) > MAX_STRING_ARGUMENT:
            raise ValueError(
                f"{where}: a string of {len(value)} characters looks like content; tasks take ids "
                f"(at most {MAX_STRING_ARGUMENT} characters)"
            )
        return value
    raise TypeError(f"{where}: tasks take ids, not {type(value).__name__}; pass the object's id")


def check_task_arguments(
    args: tuple[object, ...], kwargs: dict[str, object]
) -> tuple[list[object], dict[str, object]]:
    """The arguments as they will be stored, or TypeError/ValueError if any is not an id."""
    clean_args = [_id_only(value, f"argument {position}") for position, value in enumerate(args)]
    clean_kwargs = {name: _id_only(value, f"argument {name!r}") for name, value in kwargs.items()}
    return clean_args, clean_kwargs


def enqueue_on_commit(task: Task[P, Any], *args: P.args, **kwargs: P.kwargs) -> None:
    """Enqueue ``task(*args, **kwargs)`` so it runs only if the current transaction commits.

    A worker never picks up a task for a row it cannot see yet, and a rolled-back request enqueues
    nothing. With the database queue inside a transaction, the task row is written in that same
    transaction (a transactional outbox): it commits atomically with the data, so no crash between
    the two can lose the follow-up, and the request pays for one commit instead of two. Other
    queues (the immediate one runs the task inline) enqueue once the transaction has committed.
    The arguments are checked here, at the call site, so a mistake fails the request that made it
    rather than a worker later.
    """
    if not isinstance(task, Task):
        raise TypeError("enqueue_on_commit() takes a task (a function decorated with @task or @retryable)")
    clean_args, clean_kwargs = check_task_arguments(args, kwargs)
    enqueue: Callable[..., object] = task.enqueue

    def enqueue_now() -> None:
        enqueue(*clean_args, **clean_kwargs)

    if isinstance(task.get_backend(), DatabaseBackend) and _in_transaction(DBTaskResult):
        enqueue_now()
        return
    # Not robust=True: if enqueueing fails after the commit, the caller hears about it instead of a
    # log line. The data is committed either way, so flows that must not lose the follow-up (the
    # acknowledgement of a report) also have a periodic job that finds rows still waiting for it.
    transaction.on_commit(enqueue_now)


def _in_transaction(model: type[Model]) -> bool:
    return connections[router.db_for_write(model)].in_atomic_block


def retry_delay(attempt: int, *, base: timedelta, maximum: timedelta) -> timedelta:
    """How long to wait after attempt number ``attempt`` (1-based) failed: doubling, capped.

    Computed in float seconds with the exponent bounded, because ``base * 2**n`` overflows
    timedelta (and then float) long before the cap stops mattering.
    """
    factor = 2.0 ** min(attempt - 1, 64)
    seconds = min(maximum.total_seconds(), base.total_seconds() * factor)
    return timedelta(seconds=seconds)


def retryable(
    *,
    max_attempts: int = 5,
    base_delay: timedelta = timedelta(seconds=30),
    max_delay: timedelta = timedelta(hours=1),
    retry_on: tuple[type[Exception], ...] = (Exception,),
    priority: int = 0,
    queue_name: str = DEFAULT_TASK_QUEUE_NAME,
    backend: str = DEFAULT_TASK_BACKEND_ALIAS,
) -> Callable[[Callable[P, T]], Task[P, T]]:
    """Make a task (like ``@task``) that is retried with exponential backoff when it raises.

    Design: django-tasks marks an attempt that raises as FAILED and has no retry of its own. So the
    failing attempt enqueues a *new* task row for the next attempt, deferred with ``run_after``,
    and carries the attempt number as the hidden keyword argument ``_attempt`` (the new row starts
    with no ``worker_ids``, so ``TaskContext.attempt`` would restart at 1). Then it re-raises, so
    each attempt's row honestly says FAILED, with its traceback. After ``max_attempts`` it logs an
    error (task path and exception class only: a message might quote content) and stops.

    On a backend that cannot defer (the test suite's ImmediateBackend), the next attempt runs
    inline at once, so a test sees the whole retry sequence synchronously.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")

    def decorate(func: Callable[P, T]) -> Task[P, T]:
        if ATTEMPT_KWARG in inspect.signature(func).parameters:
            raise TypeError(f"{func.__qualname__}: the parameter name {ATTEMPT_KWARG!r} is reserved")

        @functools.wraps(func)
        def run_attempt(*args: P.args, **kwargs: P.kwargs) -> T:
            carried = kwargs.pop(ATTEMPT_KWARG, 1)
            attempt = carried if isinstance(carried, int) else 1
            try:
                return func(*args, **kwargs)
            except retry_on as exc:
                failure = type(exc).__qualname__
                if attempt >= max_attempts:
                    logger.error(
                        "Task %s gave up after %d attempts (last error: %s)",
                        the_task.module_path,
                        attempt,
                        failure,
                    )
                    raise
                delay = retry_delay(attempt, base=base_delay, maximum=max_delay)
                delay *= 1 + random.uniform(0, JITTER)  # noqa: S311 - spreading load, not a secret
                logger.warning(
                    "Task %s attempt %d of %d failed (%s); retrying in %.0f s",
                    the_task.module_path,
                    attempt,
                    max_attempts,
                    failure,
                    delay.total_seconds(),
                )
                _enqueue_attempt(the_task, args, kwargs, attempt=attempt + 1, delay=delay)
                raise

        the_task: Task[P, T] = task(priority=priority, queue_name=queue_name, backend=backend)(run_attempt)
        return the_task

    return decorate


def _enqueue_attempt(
    the_task: Task[P, T], args: tuple[Any, ...], kwargs: dict[str, Any], *, attempt: int, delay: timedelta
) -> None:
    """Enqueue attempt number ``attempt`` of ``the_task``, ``delay`` from now where supported.

    This is a direct enqueue, not on commit: a failed attempt has nothing left to commit (its own
    atomic blocks rolled back when the exception left them).
    """
    if the_task.get_backend().supports_defer:
        the_task = the_task.using(run_after=timezone.now() + delay)
    enqueue: Callable[..., object] = the_task.enqueue
    enqueue(*args, **{**kwargs, ATTEMPT_KWARG: attempt})
