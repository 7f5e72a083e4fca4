"""The database task queue: django-tasks-db's backend, its task rows written by the lean insert.

Every report enqueues its acknowledgement inside the transaction that stores it (see
``queue.enqueue_on_commit``), under the database's only write lock. ``DBTaskResult.objects.create``
spent more Python building its INSERT than SQLite spent running it, so the row is built here as the
library builds it and written by :func:`bastion.lib.lean.insert`. Nothing else changes: claiming,
running and finishing tasks are the library's.
"""

from __future__ import annotations

from typing import Any

from django_tasks_db import backend
from django_tasks_db.compat import Task, normalize_json
from django_tasks_db.models import DBTaskResult, get_date_max

from bastion.lib import lean


class DatabaseBackend(backend.DatabaseBackend):
    """django-tasks-db's ``DatabaseBackend`` with a cheaper enqueue."""

    def _task_to_db_task(self, task: Task[Any, Any], args: Any, kwargs: Any) -> DBTaskResult:
        # The same fields as the library's own _task_to_db_task (django-tasks-db 0.13), and what its
        # pre_save receiver does: "no time set" is stored as the greatest date.
        row: DBTaskResult[Any, Any] = DBTaskResult(
            id=self._get_id(),
            args_kwargs=normalize_json({"args": args, "kwargs": kwargs}),
            priority=task.priority,
            task_path=task.module_path,
            queue_name=task.queue_name,
            run_after=task.run_after if task.run_after is not None else get_date_max(),
            backend_name=self.alias,
        )
        lean.insert(row, skip_signals=True)
        return row
