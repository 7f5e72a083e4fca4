import uuid

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from bastion.worker.queue import enqueue_on_commit
from bastion.worker.tests import tasks_for_tests
from bastion.worker.tests.tasks_for_tests import record

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_calls():
    tasks_for_tests.calls.clear()


def test_it_enqueues_only_when_the_transaction_commits(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        enqueue_on_commit(record, 42)
        assert tasks_for_tests.calls == []
    assert len(callbacks) == 1

    callbacks[0]()
    assert tasks_for_tests.calls == [((42,), {})]


def enqueue_then_fail() -> None:
    with transaction.atomic():
        enqueue_on_commit(record, 42)
        raise RuntimeError("roll back")


def test_it_enqueues_nothing_when_the_transaction_rolls_back(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks, pytest.raises(RuntimeError):
        enqueue_then_fail()
    assert callbacks == []
    assert tasks_for_tests.calls == []


def test_it_passes_ids_and_short_scalars_through(django_capture_on_commit_callbacks):
    report_id = uuid.uuid4()
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(record, 7, report_id, "BST-2026-0001", True, None, kind="ack")
    # UUIDs arrive as strings: task rows are JSON.
    assert tasks_for_tests.calls == [((7, str(report_id), "BST-2026-0001", True, None), {"kind": "ack"})]


@pytest.mark.parametrize(
    ("argument", "error"),
    [
        ({"body": "secret"}, TypeError),
        (["secret"], TypeError),
        (b"secret", TypeError),
        (1.5, TypeError),
        (object(), TypeError),
        ("secret " * 20, ValueError),
    ],
)
def test_it_rejects_content_arguments(argument, error, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(error) as excinfo:
        enqueue_on_commit(record, argument)
    assert "secret" not in str(excinfo.value)
    assert callbacks == []


def test_it_rejects_content_in_keyword_arguments(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(TypeError, match="'body'"):
        enqueue_on_commit(record, 1, body={"text": "secret"})
    assert callbacks == []


def test_it_rejects_a_plain_function():
    with pytest.raises(TypeError, match="takes a task"):
        enqueue_on_commit(print, 1)  # type: ignore[arg-type]


@pytest.mark.django_db(transaction=True)
class TestWithTheDatabaseQueue:
    """The task row is written inside the caller's transaction: it commits or rolls back with it."""

    @pytest.fixture(autouse=True)
    def _database_backend(self, settings):
        settings.TASKS = {"default": {"BACKEND": "bastion.worker.backend.DatabaseBackend"}}

    def test_the_row_exists_inside_the_transaction_and_after_its_commit(self):
        with transaction.atomic():
            enqueue_on_commit(record, 42)
            assert DBTaskResult.objects.count() == 1  # already written, visible to no other connection
        assert DBTaskResult.objects.get().args_kwargs == {"args": [42], "kwargs": {}}
        assert tasks_for_tests.calls == []  # queued for a worker, not run

    def test_a_rollback_takes_the_row_with_it(self):
        with pytest.raises(RuntimeError):
            enqueue_then_fail()
        assert not DBTaskResult.objects.exists()

    def test_outside_a_transaction_it_is_queued_at_once(self):
        enqueue_on_commit(record, 7)
        assert DBTaskResult.objects.count() == 1
