from collections.abc import Callable

import pytest
from django_tasks_db.management.commands.db_worker import Worker
from django_tasks_db.models import DBTaskResult

from bastion.worker.tests import tasks_for_tests


@pytest.fixture(autouse=True)
def _fresh_test_task_state():
    tasks_for_tests.calls.clear()
    tasks_for_tests.attempts.clear()
    tasks_for_tests.failures_wanted.clear()


@pytest.fixture
def run_ready_tasks(settings) -> Callable[[], int]:
    """Switch to the database task backend; return a function that runs every ready task in-process.

    It claims and runs rows exactly as django-tasks-db's worker loop does, minus the loop's
    connection recycling, which would break the test transaction.
    """
    settings.TASKS = {"default": {"BACKEND": "bastion.worker.backend.DatabaseBackend"}}
    worker = Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=None,
        worker_id="test-worker",
        excluded_queue_names=[],
    )

    def run() -> int:
        ran = 0
        while (row := DBTaskResult.objects.ready().first()) is not None:
            row.claim(worker.worker_id)
            worker.run_task(row)
            ran += 1
        return ran

    return run
