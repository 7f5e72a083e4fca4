"""Database snapshots and restores that cannot go ahead: a clear error, and the live database as it was."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from django.db import connection

from bastion.vault.backup.errors import BackupError
from bastion.vault.backup.snapshot import (
    engine_of,
    restore_database,
    scratch_database,
    snapshot_database,
)


def sqlite_file(path: Path, rows: list[str]) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE django_migrations (app TEXT)")
    db.executemany("INSERT INTO django_migrations VALUES (?)", [(row,) for row in rows])
    db.commit()
    db.close()
    return path


def migrations_in(path: Path) -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[0] for row in db.execute("SELECT app FROM django_migrations")]
    finally:
        db.close()


def test_a_snapshot_never_overwrites_one_already_in_the_work_dir(tmp_path: Path):
    work = tmp_path / "work"
    work.mkdir()
    engine = engine_of(connection.settings_dict)
    name = {"sqlite": "bastion.sqlite3", "postgresql": "bastion.pgdump"}[engine]
    (work / name).write_bytes(b"a snapshot another run is still archiving")

    with pytest.raises(BackupError, match=r"a snapshot is already at .*use a fresh work directory"):
        snapshot_database(work)
    assert (work / name).read_bytes() == b"a snapshot another run is still archiving"


def test_a_scratch_database_of_another_engine_is_refused(tmp_path: Path):
    other = {"sqlite": "postgresql", "postgresql": "sqlite"}[engine_of(connection.settings_dict)]
    refused = f"a {other} scratch database needs a {other} default database"
    with pytest.raises(BackupError, match=refused), scratch_database(tmp_path, engine=other):
        pass  # pragma: no cover - refused on entry


def test_a_restore_from_a_snapshot_that_vanished_leaves_the_live_database_alone(tmp_path: Path):
    live = sqlite_file(tmp_path / "bastion.sqlite3", ["accounts"])
    entry = {"ENGINE": "bastion.lib.sqlite", "NAME": str(live)}

    with pytest.raises(FileNotFoundError):
        restore_database(tmp_path / "cleaned-up.sqlite3", engine="sqlite", settings_dict=entry)

    assert migrations_in(live) == ["accounts"]
    assert sorted(os.listdir(tmp_path)) == ["bastion.sqlite3"]  # no staged copy left beside it


def test_a_restore_that_cannot_take_the_live_place_leaves_no_staged_copy(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    live = data / "bastion.sqlite3"
    live.mkdir()  # something that is not a database file holds the name: rename(2) refuses
    (live / "keep").write_bytes(b"whatever it is, it stays")
    snapshot = sqlite_file(tmp_path / "snapshot.sqlite3", ["restored"])
    entry = {"ENGINE": "bastion.lib.sqlite", "NAME": str(live)}

    with pytest.raises(IsADirectoryError):
        restore_database(snapshot, engine="sqlite", settings_dict=entry)

    assert sorted(os.listdir(data)) == ["bastion.sqlite3"]
    assert (live / "keep").read_bytes() == b"whatever it is, it stays"
    assert migrations_in(snapshot) == ["restored"]  # not moved: copied, and the copy went


@pytest.mark.skipif(shutil.which("pg_restore") is None, reason="needs the PostgreSQL client")
def test_a_damaged_postgresql_dump_is_refused_in_pg_restore_s_words(tmp_path: Path):
    dump = tmp_path / "bastion.pgdump"
    dump.write_bytes(b"PGDMP not really a dump")
    entry = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "bastion",
        "HOST": "127.0.0.1",
        "PORT": "9",  # never reached: pg_restore reads the file header first
        "USER": "bastion",
        "PASSWORD": "not-on-the-command-line",
    }

    with pytest.raises(BackupError, match=r"^pg_restore failed: pg_restore: error: .*file header") as raised:
        restore_database(dump, engine="postgresql", settings_dict=entry)
    assert "not-on-the-command-line" not in str(raised.value)
