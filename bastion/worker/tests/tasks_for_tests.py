"""Tasks used only by the worker's tests (module-level, as django-tasks requires).

Not named ``test_*.py``, so pytest does not collect it; the worker subprocess imports it by path.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django_tasks import task

from bastion.worker.queue import retryable

calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = []
attempts: Counter[str] = Counter()
failures_wanted: dict[str, int] = {}


@task()
def record(*args: Any, **kwargs: Any) -> None:
    """Remember its arguments in ``calls``."""
    calls.append((args, kwargs))


@retryable(max_attempts=3, base_delay=timedelta(seconds=30), max_delay=timedelta(seconds=45))
def flaky(key: str) -> str:
    """Fail the first ``failures_wanted[key]`` times, with content-like text in the error."""
    attempts[key] += 1
    if attempts[key] <= failures_wanted.get(key, 0):
        raise RuntimeError("reporter wrote: my password is hunter2")
    return "done"


def _log(line: str) -> None:
    with (Path(settings.DATA_DIR) / "task.log").open("a", encoding="utf-8") as handle:
        handle.write(f"{line}\n")
        handle.flush()


@task()
def nap_once() -> None:
    """Sleep for a long time on the first run only, so a test can kill the worker mid-task."""
    first_run = not (Path(settings.DATA_DIR) / "task.log").exists()
    _log(f"start {os.getpid()}")
    if first_run:
        time.sleep(60)
    _log("done")


@task()
def nap(seconds: int) -> None:
    """Sleep for ``seconds``, logging the start and the end."""
    _log(f"start {os.getpid()}")
    time.sleep(seconds)
    _log("done")


@retryable(retry_on=(ConnectionError,))
def picky(key: str) -> None:
    """Fail with an error that is not in its ``retry_on``."""
    attempts[key] += 1
    raise ValueError("not worth retrying")


@task()
def count_tick() -> None:
    """A periodic job for the scheduler tests."""
    attempts["tick"] += 1


@task()
def needs_an_id(report_id: int) -> None:
    """Cannot be periodic: a periodic task is called with no arguments."""
