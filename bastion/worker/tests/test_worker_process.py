"""`bastion worker` as a real process: signals, and recovery after a worker is killed mid-task.

Each test runs the command against its own file SQLite database (a copy of one migrated once per
module), so it never touches the test database. Every wait is bounded and every process started
here is killed in a ``finally``.
"""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[3]
TASKS = "bastion.worker.tests.tasks_for_tests"


def environment(data_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        BASTION_DATA_DIR=str(data_dir),
        BASTION_TASKS_BACKEND="database",
        BASTION_WORKER_POLL_SECONDS="1",
        BASTION_WORKER_STALE_SECONDS="10",
        BASTION_LOG_LEVEL="INFO",
        PYTHONUNBUFFERED="1",
    )
    env.pop("DATABASE_URL", None)  # the subprocess must use the file database, even in a PostgreSQL run
    return env


def bastion(data_dir: Path, *args: str, timeout: float = 60) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "bastion.cli", *args],
        cwd=REPO,
        env=environment(data_dir),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def query(data_dir: Path, sql: str, *params: object) -> list[tuple]:
    with closing(sqlite3.connect(data_dir / "bastion.sqlite3", timeout=10)) as db:
        return db.execute(sql, params).fetchall()


def task_rows(data_dir: Path, name: str) -> list[tuple[str, str]]:
    return query(
        data_dir,
        "SELECT status, worker_ids FROM django_tasks_database_dbtaskresult WHERE task_path = ?",
        f"{TASKS}.{name}",
    )


def log_lines(data_dir: Path) -> list[str]:
    log = data_dir / "task.log"
    return log.read_text().splitlines() if log.exists() else []


def wait_for(condition: Callable[[], object], *, timeout: float = 20, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    template = tmp_path_factory.mktemp("migrated")
    bastion(template, "migrate", "--no-input", "-v", "0", timeout=120)
    return template


@pytest.fixture
def data_dir(migrated, tmp_path) -> Path:
    target = tmp_path / "data"
    shutil.copytree(migrated, target)
    return target


@pytest.fixture
def workers(data_dir) -> Iterator[Callable[[], subprocess.Popen]]:
    """Starts `bastion worker` processes; kills whichever are still alive at the end."""
    started: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = (data_dir / f"worker-{len(started)}.log").open("w")
        process = subprocess.Popen(
            [sys.executable, "-m", "bastion.cli", "worker"],
            cwd=REPO,
            env=environment(data_dir),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        started.append(process)
        return process

    try:
        yield start
    finally:
        for process in started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)


def enqueue(data_dir: Path, call: str) -> None:
    bastion(data_dir, "shell", "-c", f"from {TASKS} import *; {call}")


def worker_output(data_dir: Path) -> str:
    return "\n".join(path.read_text() for path in sorted(data_dir.glob("worker-*.log")))


def test_a_task_survives_its_worker_being_killed_mid_task(data_dir, workers):
    enqueue(data_dir, "nap_once.enqueue()")
    first = workers()
    wait_for(lambda: len(log_lines(data_dir)) == 1, what="the task to start")
    assert task_rows(data_dir, "nap_once")[0][0] == "RUNNING"

    first.kill()  # SIGKILL: no cleanup, the heartbeat row stays behind
    first.wait(timeout=10)
    # Orphaned: nothing in django-tasks-db itself would ever run it again.
    assert task_rows(data_dir, "nap_once")[0][0] == "RUNNING"

    second = workers()
    wait_for(lambda: task_rows(data_dir, "nap_once")[0][0] == "SUCCESSFUL", what="the task to finish")

    [(_, worker_ids)] = task_rows(data_dir, "nap_once")
    assert len(json.loads(worker_ids)) == 2  # claimed by both workers
    lines = log_lines(data_dir)
    assert lines == [f"start {first.pid}", f"start {second.pid}", "done"]
    assert "Re-queued task" in worker_output(data_dir)


def test_sigterm_lets_the_current_task_finish_then_exits_zero(data_dir, workers):
    enqueue(data_dir, "nap.enqueue(2)")
    worker = workers()
    wait_for(lambda: log_lines(data_dir), what="the task to start")

    worker.send_signal(signal.SIGTERM)

    assert worker.wait(timeout=20) == 0
    assert log_lines(data_dir)[-1] == "done"
    [(status, _)] = task_rows(data_dir, "nap")
    assert status == "SUCCESSFUL"
    assert query(data_dir, "SELECT count(*) FROM worker_workerheartbeat") == [(0,)]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_an_idle_worker_ticks_the_scheduler_and_stops_cleanly_on_a_signal(data_dir, workers, signum):
    worker = workers()
    wait_for(
        lambda: query(data_dir, "SELECT count(*) FROM worker_workerheartbeat") == [(1,)],
        what="the worker's heartbeat",
    )
    # The start-up tick enqueued the sweeper, and the worker ran it.
    wait_for(
        lambda: (
            query(
                data_dir,
                "SELECT status FROM django_tasks_database_dbtaskresult WHERE task_path = ?",
                "bastion.worker.tasks.sweep_stale_tasks",
            )
            == [("SUCCESSFUL",)]
        ),
        what="the periodic sweep to run",
    )
    assert ("bastion.worker.tasks.sweep_stale_tasks",) in query(
        data_dir, "SELECT name FROM worker_scheduledjob"
    )

    worker.send_signal(signum)

    assert worker.wait(timeout=20) == 0
    assert query(data_dir, "SELECT count(*) FROM worker_workerheartbeat") == [(0,)]


def test_it_refuses_to_run_without_the_database_backend(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with pytest.raises(CommandError, match="database task backend"):
        call_command("worker")
