import logging
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from bastion.worker.queue import retry_delay, retryable
from bastion.worker.tests import tasks_for_tests
from bastion.worker.tests.tasks_for_tests import flaky, picky

pytestmark = pytest.mark.django_db


def rows():
    """Task rows in attempt order (a retry may share its predecessor's enqueued_at under time_machine)."""
    return sorted(DBTaskResult.objects.all(), key=lambda row: row.args_kwargs["kwargs"].get("_attempt", 1))


def test_the_delay_doubles_from_the_base_up_to_the_cap():
    delays = [retry_delay(n, base=timedelta(seconds=30), maximum=timedelta(minutes=10)) for n in range(1, 8)]
    assert [d.total_seconds() for d in delays] == [30, 60, 120, 240, 480, 600, 600]


def test_the_delay_does_not_overflow_for_huge_attempt_numbers():
    assert retry_delay(5000, base=timedelta(seconds=30), maximum=timedelta(hours=1)) == timedelta(hours=1)


def test_a_failed_attempt_is_retried_later_with_backoff_then_given_up(run_ready_tasks, caplog):
    tasks_for_tests.failures_wanted["k"] = 99
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flaky.enqueue("k")
        assert run_ready_tasks() == 1

    first, second = rows()
    assert first.status == TaskResultStatus.FAILED
    assert second.status == TaskResultStatus.READY
    assert second.args_kwargs == {"args": ["k"], "kwargs": {"_attempt": 2}}
    # 30 s plus at most 10 % jitter.
    assert timedelta(seconds=30) <= second.run_after - start <= timedelta(seconds=33)

    with time_machine.travel(start + timedelta(seconds=29), tick=False):
        assert run_ready_tasks() == 0  # not due yet

    with time_machine.travel(start + timedelta(seconds=34), tick=False):
        assert run_ready_tasks() == 1
    third = rows()[2]
    # min(45 s cap, 30 s * 2) = 45 s after the second attempt.
    delay = third.run_after - (start + timedelta(seconds=34))
    assert timedelta(seconds=45) <= delay <= timedelta(seconds=49.5)

    caplog.clear()
    with (
        caplog.at_level(logging.WARNING, logger="bastion.worker.queue"),
        time_machine.travel(start + timedelta(minutes=5), tick=False),
    ):
        assert run_ready_tasks() == 1
    assert run_ready_tasks() == 0
    assert [row.status for row in rows()] == [TaskResultStatus.FAILED] * 3
    assert tasks_for_tests.attempts["k"] == 3
    gave_up = [r for r in caplog.records if r.name == "bastion.worker.queue"]
    assert [r.levelno for r in gave_up] == [logging.ERROR]
    assert "gave up after 3 attempts (last error: RuntimeError)" in gave_up[0].getMessage()
    # Our own log lines name the error's class, never its message (it may quote content).
    assert "hunter2" not in gave_up[0].getMessage()


def test_a_retry_that_succeeds_ends_the_sequence(run_ready_tasks):
    tasks_for_tests.failures_wanted["k"] = 1
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        flaky.enqueue("k")
        run_ready_tasks()
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        run_ready_tasks()
    assert [row.status for row in rows()] == [TaskResultStatus.FAILED, TaskResultStatus.SUCCESSFUL]
    assert rows()[1].return_value == "done"


def test_on_a_backend_that_cannot_defer_the_retries_run_inline():
    # The test suite's ImmediateBackend: the whole sequence happens inside enqueue().
    tasks_for_tests.failures_wanted["k"] = 2
    result = flaky.enqueue("k")
    assert tasks_for_tests.attempts["k"] == 3
    # The first attempt's own result still says it failed; its retry succeeded.
    assert result.status == TaskResultStatus.FAILED


def test_errors_outside_retry_on_are_not_retried():
    result = picky.enqueue("k")
    assert result.status == TaskResultStatus.FAILED
    assert tasks_for_tests.attempts["k"] == 1


def test_it_refuses_a_function_that_uses_the_reserved_parameter():
    with pytest.raises(TypeError, match="reserved"):

        @retryable()
        def task_with_attempt(_attempt: int) -> None: ...


def test_it_needs_at_least_one_attempt():
    with pytest.raises(ValueError, match="at least 1"):
        retryable(max_attempts=0)
