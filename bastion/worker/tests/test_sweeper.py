import os
import subprocess
import sys
from datetime import timedelta

import pytest
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from bastion.worker.models import WorkerHeartbeat
from bastion.worker.sweeper import MAX_CLAIMS, beat, forget, host_key, release_tasks_of, requeue_stale_tasks
from bastion.worker.tasks import sweep_stale_tasks

pytestmark = pytest.mark.django_db

STALE = timedelta(seconds=600)


def running_task(*worker_ids, started=timedelta(0)):
    return DBTaskResult.objects.create(
        status=TaskResultStatus.RUNNING,
        worker_ids=list(worker_ids),
        started_at=timezone.now() - started,
        task_path="bastion.worker.tests.tasks_for_tests.record",
        args_kwargs={"args": [], "kwargs": {}},
        backend_name="default",
    )


def heartbeat(worker_id, *, age=timedelta(0), host=None, pid=None):
    now = timezone.now()
    return WorkerHeartbeat.objects.create(
        worker_id=worker_id,
        host=host or host_key(),
        pid=pid or os.getpid(),
        started_at=now - age,
        last_seen=now - age,
    )


def status(task):
    task.refresh_from_db()
    return task.status


@pytest.fixture(scope="module")
def dead_pid():
    """The pid of a process that has exited and been reaped."""
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_it_requeues_a_task_whose_worker_stopped_beating():
    heartbeat("dead", age=STALE + timedelta(seconds=1))
    task = running_task("dead", started=timedelta(hours=1))

    assert requeue_stale_tasks(stale_after=STALE) == 1
    assert status(task) == TaskResultStatus.READY


def test_it_leaves_a_long_task_alone_while_its_worker_beats():
    heartbeat("alive", age=timedelta(seconds=5))
    task = running_task("alive", started=timedelta(hours=3))

    assert requeue_stale_tasks(stale_after=STALE) == 0
    assert status(task) == TaskResultStatus.RUNNING


def test_it_requeues_at_once_when_the_workers_process_is_gone_from_this_machine(dead_pid):
    heartbeat("killed", age=timedelta(seconds=1), pid=dead_pid)
    task = running_task("killed", started=timedelta(seconds=1))

    assert requeue_stale_tasks(stale_after=STALE) == 1
    assert status(task) == TaskResultStatus.READY


def test_it_does_not_judge_pids_on_another_machine(dead_pid):
    heartbeat("elsewhere", age=timedelta(seconds=1), pid=dead_pid, host="other-host:0123456789abcdef")
    task = running_task("elsewhere", started=timedelta(seconds=1))

    assert requeue_stale_tasks(stale_after=STALE) == 0
    assert status(task) == TaskResultStatus.RUNNING


def test_without_a_heartbeat_it_goes_by_the_start_time():
    old = running_task("plain-db-worker", started=STALE + timedelta(seconds=1))
    recent = running_task("plain-db-worker", started=timedelta(seconds=5))

    assert requeue_stale_tasks(stale_after=STALE) == 1
    assert status(old) == TaskResultStatus.READY
    assert status(recent) == TaskResultStatus.RUNNING


def test_it_judges_the_worker_that_claimed_the_task_last():
    heartbeat("dead", age=STALE * 2)
    heartbeat("alive")
    task = running_task("dead", "alive", started=timedelta(seconds=5))

    assert requeue_stale_tasks(stale_after=STALE) == 0
    assert status(task) == TaskResultStatus.RUNNING


def test_it_fails_a_task_that_keeps_killing_its_workers():
    heartbeat("dead", age=STALE * 2)
    task = running_task(*[f"w{n}" for n in range(MAX_CLAIMS - 1)], "dead", started=timedelta(hours=1))

    assert requeue_stale_tasks(stale_after=STALE) == 0
    task.refresh_from_db()
    assert task.status == TaskResultStatus.FAILED
    assert task.exception_class_path == "bastion.worker.sweeper.WorkerLost"
    assert task.task_result.errors[0].exception_class.__name__ == "WorkerLost"


def test_it_leaves_ready_and_finished_tasks_alone():
    heartbeat("dead", age=STALE * 2)
    task = running_task("dead", started=timedelta(hours=1))
    DBTaskResult.objects.filter(pk=task.pk).update(status=TaskResultStatus.SUCCESSFUL)

    assert requeue_stale_tasks(stale_after=STALE) == 0
    assert status(task) == TaskResultStatus.SUCCESSFUL


def test_a_second_sweep_finds_nothing_to_do():
    heartbeat("dead", age=STALE * 2)
    running_task("dead", started=timedelta(hours=1))

    assert requeue_stale_tasks(stale_after=STALE) == 1
    assert requeue_stale_tasks(stale_after=STALE) == 0


def test_it_prunes_heartbeats_dead_for_a_day():
    heartbeat("long-gone", age=timedelta(days=2))
    heartbeat("recently-gone", age=STALE * 2)

    requeue_stale_tasks(stale_after=STALE)

    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["recently-gone"]


def test_the_sweep_task_uses_the_configured_stale_period(settings):
    settings.WORKER_STALE_SECONDS = 60
    heartbeat("dead", age=timedelta(seconds=61))
    task = running_task("dead", started=timedelta(hours=1))

    sweep_stale_tasks.enqueue()

    assert status(task) == TaskResultStatus.READY


def test_a_worker_beats_and_is_forgotten_when_it_stops():
    beat("w1")
    first = WorkerHeartbeat.objects.get(worker_id="w1")
    assert (first.pid, first.host) == (os.getpid(), host_key())

    beat("w1", now=first.last_seen + timedelta(seconds=30))
    second = WorkerHeartbeat.objects.get(worker_id="w1")
    assert second.last_seen - first.last_seen == timedelta(seconds=30)
    assert second.started_at == first.started_at

    forget("w1")
    assert not WorkerHeartbeat.objects.exists()


def test_a_stopping_worker_releases_the_task_it_claimed_but_never_started():
    claimed = running_task("stopping", started=timedelta(seconds=1))
    others = running_task("stopping", "alive", started=timedelta(seconds=1))

    assert release_tasks_of("stopping") == 1
    assert status(claimed) == TaskResultStatus.READY
    assert status(others) == TaskResultStatus.RUNNING
