"""Bastion's task backend writes the row django-tasks-db's own backend writes, by the lean insert."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from django_tasks_db.models import DBTaskResult, get_date_max

from bastion.worker.tests.tasks_for_tests import record

pytestmark = pytest.mark.django_db

COMPARED = ("status", "args_kwargs", "priority", "task_path", "queue_name", "run_after", "backend_name")


def enqueued_by(settings, backend: str, *args: object, **options: Any) -> dict[str, object]:
    settings.TASKS = {"default": {"BACKEND": backend}}
    result = record.using(**options).enqueue(*args) if options else record.enqueue(*args)
    row = DBTaskResult.objects.get(pk=result.id)
    assert result.status == row.status
    return {name: getattr(row, name) for name in COMPARED}


@pytest.mark.parametrize("options", [{}, {"priority": 7}])
def test_the_row_is_the_librarys(settings, options):
    ours = enqueued_by(settings, "bastion.worker.backend.DatabaseBackend", 42, **options)
    theirs = enqueued_by(settings, "django_tasks_db.DatabaseBackend", 42, **options)
    assert ours == theirs
    assert ours["run_after"] == get_date_max()  # "whenever": what the library's pre_save receiver sets


def test_a_task_to_run_later_keeps_its_time(settings):
    later = timezone.now() + timedelta(hours=1)
    ours = enqueued_by(settings, "bastion.worker.backend.DatabaseBackend", 1, run_after=later)
    assert ours["run_after"] == later
