from datetime import UTC, datetime, timedelta

import pytest
from django_tasks_db.models import DBTaskResult

from bastion.worker import scheduler
from bastion.worker.models import ScheduledJob
from bastion.worker.scheduler import (
    claim_due_job,
    next_due,
    periodic,
    register_periodic,
    registered_jobs,
    tick,
)
from bastion.worker.tests import tasks_for_tests
from bastion.worker.tests.tasks_for_tests import count_tick, needs_an_id

NOW = datetime(2026, 11, 4, 12, 0, tzinfo=UTC)
JOB = "bastion.worker.tests.tasks_for_tests.count_tick"


@pytest.fixture
def registry(monkeypatch):
    """An empty registry, so only the jobs a test registers exist."""
    registered_jobs()  # import every tasks module first, so none registers into ours later
    jobs: dict[str, scheduler.PeriodicJob] = {}
    monkeypatch.setattr(scheduler, "_registry", jobs)
    return jobs


def runs():
    return tasks_for_tests.attempts["tick"]


@pytest.mark.django_db
def test_a_due_job_is_enqueued_once_and_not_again_until_it_is_due(registry):
    periodic(every=timedelta(minutes=5))(count_tick)

    assert tick(NOW) == [JOB]
    assert tick(NOW) == []
    assert tick(NOW + timedelta(minutes=4, seconds=59)) == []
    assert runs() == 1

    assert tick(NOW + timedelta(minutes=5)) == [JOB]
    assert runs() == 2
    job = ScheduledJob.objects.get(name=JOB)
    assert job.last_run_at == NOW + timedelta(minutes=5)
    assert job.next_run_at == NOW + timedelta(minutes=10)


@pytest.mark.django_db
def test_a_tick_that_lost_the_race_enqueues_nothing(registry):
    register_periodic(count_tick, every=timedelta(minutes=5))
    ScheduledJob.objects.create(name=JOB, every=timedelta(minutes=5), next_run_at=NOW)
    # Both ticks read the row while it was due...
    first_view = ScheduledJob.objects.get(name=JOB)
    second_view = ScheduledJob.objects.get(name=JOB)

    # ...and only the first one to write wins.
    assert claim_due_job(first_view, job=registry[JOB], now=NOW) is True
    assert claim_due_job(second_view, job=registry[JOB], now=NOW) is False
    assert runs() == 1


@pytest.mark.django_db
def test_with_the_database_backend_the_claim_and_the_task_row_commit_together(registry, run_ready_tasks):
    register_periodic(count_tick, every=timedelta(minutes=5))

    tick(NOW)

    assert DBTaskResult.objects.filter(task_path=JOB).count() == 1
    assert runs() == 0
    run_ready_tasks()
    assert runs() == 1


@pytest.mark.django_db
def test_a_shorter_interval_takes_effect_without_waiting_out_the_old_one(registry):
    ScheduledJob.objects.create(name=JOB, every=timedelta(days=1), next_run_at=NOW + timedelta(hours=20))
    register_periodic(count_tick, every=timedelta(minutes=5))

    assert tick(NOW) == []
    assert ScheduledJob.objects.get(name=JOB).next_run_at == NOW + timedelta(minutes=5)
    assert tick(NOW + timedelta(minutes=5)) == [JOB]


@pytest.mark.django_db
def test_a_job_no_longer_registered_is_not_run(registry):
    ScheduledJob.objects.create(
        name="bastion.gone.tasks.old_job", every=timedelta(minutes=5), next_run_at=NOW
    )
    assert tick(NOW) == []


def test_next_due_stays_on_the_grid_and_skips_missed_runs():
    every = timedelta(minutes=5)
    assert next_due(NOW, every, NOW) == NOW + every
    assert next_due(NOW, every, NOW + timedelta(seconds=3)) == NOW + every
    # Down for an hour: one run now, the next on the original grid.
    assert next_due(NOW, every, NOW + timedelta(hours=1, seconds=1)) == NOW + timedelta(hours=1, minutes=5)


def test_it_refuses_a_periodic_task_that_needs_arguments(registry):
    with pytest.raises(TypeError, match="no arguments"):
        register_periodic(needs_an_id, every=timedelta(minutes=5))


def test_it_refuses_an_interval_shorter_than_a_tick_can_honour(registry):
    with pytest.raises(ValueError, match="at most every"):
        register_periodic(count_tick, every=timedelta(seconds=1))


def test_it_refuses_two_intervals_for_one_job(registry):
    register_periodic(count_tick, every=timedelta(minutes=5))
    register_periodic(count_tick, every=timedelta(minutes=5))  # the same again is fine
    with pytest.raises(ValueError, match="already registered"):
        register_periodic(count_tick, every=timedelta(minutes=6))


def test_it_refuses_a_plain_function(registry):
    with pytest.raises(TypeError, match="takes a task"):
        register_periodic(print, every=timedelta(minutes=5))  # type: ignore[arg-type]


def test_the_stale_task_sweeper_is_a_registered_periodic_job():
    jobs = registered_jobs()
    assert jobs["bastion.worker.tasks.sweep_stale_tasks"].every == timedelta(minutes=1)
