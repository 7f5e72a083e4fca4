"""The `worker` command in-process: batch mode and the pulse thread (signals: test_worker_process)."""

import time

import pytest
from django.core.management import call_command
from django.utils import timezone

from bastion.worker.management.commands.worker import Pulse
from bastion.worker.models import ScheduledJob, WorkerHeartbeat
from bastion.worker.queue import enqueue_on_commit
from bastion.worker.tests import tasks_for_tests
from bastion.worker.tests.tasks_for_tests import record

# Real commits: the command's pulse thread has its own database connection.
pytestmark = pytest.mark.django_db(transaction=True)

SWEEP = "bastion.worker.tasks.sweep_stale_tasks"


@pytest.fixture
def database_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "bastion.worker.backend.DatabaseBackend"}}


def test_in_batch_mode_it_runs_what_is_ready_and_the_due_jobs_then_exits(database_backend):
    enqueue_on_commit(record, 1)  # outside a transaction: enqueued at once
    assert tasks_for_tests.calls == []

    call_command("worker", "--batch", "--worker-id", "batch-worker")

    assert tasks_for_tests.calls == [((1,), {})]
    assert ScheduledJob.objects.get(name=SWEEP).last_run_at is not None
    assert not WorkerHeartbeat.objects.exists()  # forgotten on the way out


def test_the_pulse_keeps_the_heartbeat_fresh_and_ticks_until_stopped(database_backend):
    pulse = Pulse("pulse-worker", beat_every=0.05, tick_every=0.05)
    started = timezone.now()
    pulse.start()
    try:
        deadline = time.monotonic() + 10
        while not (
            WorkerHeartbeat.objects.filter(worker_id="pulse-worker", last_seen__gt=started).exists()
            and ScheduledJob.objects.filter(name=SWEEP).exists()
        ):
            assert time.monotonic() < deadline, "the pulse neither beat nor ticked"
            time.sleep(0.02)
    finally:
        pulse.stop()
    assert not pulse.is_alive()


def test_a_failing_tick_does_not_stop_the_heartbeat(database_backend, monkeypatch):
    ticks = []

    def broken_tick():
        ticks.append(1)
        raise RuntimeError("database restarting")

    monkeypatch.setattr("bastion.worker.management.commands.worker.tick", broken_tick)
    monkeypatch.setattr("bastion.worker.management.commands.worker.RETRY_AFTER_ERROR_SECONDS", 0.05)
    pulse = Pulse("unlucky-worker", beat_every=0.05, tick_every=0.05)
    pulse.start()
    try:
        deadline = time.monotonic() + 10
        while len(ticks) < 2 or not WorkerHeartbeat.objects.filter(worker_id="unlucky-worker").exists():
            assert time.monotonic() < deadline, "the pulse stopped after a failed tick"
            time.sleep(0.02)
    finally:
        pulse.stop()
