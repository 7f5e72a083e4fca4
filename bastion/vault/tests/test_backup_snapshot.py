"""Database snapshots on the suite's engine (SQLite or PostgreSQL), their restore, and scratch databases."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from bastion.vault.backup import snapshot as snapshots
from bastion.vault.backup.errors import BackupError, PostgresToolMissing
from bastion.vault.backup.snapshot import (
    database_has_data,
    engine_of,
    pg_tool,
    restore_database,
    scratch_database,
    snapshot_database,
)
from bastion.vault.models import Backup


def backup_names(entry: dict[str, Any]) -> set[str]:
    """The names in vault_backup of the database ``entry`` describes, read with a connection of our own."""
    if engine_of(entry) == "sqlite":
        db = sqlite3.connect(entry["NAME"])
        try:
            return {row[0] for row in db.execute("SELECT name FROM vault_backup")}
        finally:
            db.close()
    with snapshots._pg_connect(entry) as pg:
        return {row[0] for row in pg.execute("SELECT name FROM vault_backup").fetchall()}


@pytest.mark.django_db(transaction=True)
def test_a_snapshot_restored_into_a_scratch_database_holds_the_committed_rows(tmp_path: Path) -> None:
    Backup.objects.create(name="before-the-snapshot")
    taken = snapshot_database(tmp_path / "work")
    Backup.objects.create(name="after-the-snapshot")

    engine = engine_of(connection.settings_dict)
    assert taken.engine == engine
    assert (
        taken.member
        == {"sqlite": "database/bastion.sqlite3", "postgresql": "database/bastion.pgdump"}[engine]
    )
    assert taken.path.stat().st_mode & 0o777 == 0o600
    with scratch_database(tmp_path / "scratch", engine=engine) as entry:
        assert not database_has_data(entry)
        restore_database(taken.path, engine=engine, settings_dict=entry)
        assert database_has_data(entry)
        assert backup_names(entry) == {"before-the-snapshot"}


@pytest.mark.django_db(transaction=True)
def test_the_live_test_database_counts_as_holding_data() -> None:
    assert database_has_data(connection.settings_dict)


@pytest.mark.django_db(transaction=True)
def test_a_scratch_database_is_removed_at_exit_even_after_an_error(tmp_path: Path) -> None:
    engine = engine_of(connection.settings_dict)
    names = []

    def failing_drill() -> None:
        with scratch_database(tmp_path / "scratch", engine=engine) as entry:
            names.append(entry["NAME"])
            assert entry["ENGINE"] == connection.settings_dict["ENGINE"]
            raise RuntimeError("the drill failed")

    with pytest.raises(RuntimeError):
        failing_drill()
    name = names[0]
    if engine == "sqlite":
        assert not Path(name).exists()
        assert list((tmp_path / "scratch").iterdir()) == []
    else:
        with snapshots._pg_connect(connection.settings_dict) as pg:
            found = pg.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        assert found is None


def sqlite_file(path: Path, rows: list[str]) -> Path:
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE django_migrations (app TEXT)")
    db.executemany("INSERT INTO django_migrations VALUES (?)", [(row,) for row in rows])
    db.commit()
    db.close()
    return path


def test_restoring_sqlite_replaces_the_file_atomically_and_drops_a_stale_wal(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    live = sqlite_file(tmp_path / "data" / "bastion.sqlite3", ["old"])
    Path(f"{live}-wal").write_bytes(b"a WAL from the old database")
    Path(f"{live}-shm").write_bytes(b"its index")
    dump = sqlite_file(tmp_path / "snapshot.sqlite3", ["restored"])
    entry = {"ENGINE": "bastion.lib.sqlite", "NAME": str(live)}

    restore_database(dump, engine="sqlite", settings_dict=entry)

    assert live.read_bytes() == dump.read_bytes()
    assert not Path(f"{live}-wal").exists()
    assert not Path(f"{live}-shm").exists()
    assert sorted(os.listdir(live.parent)) == ["bastion.sqlite3"]  # no temp file left


def test_database_has_data_is_false_only_when_it_knows_there_is_none(tmp_path: Path) -> None:
    def has(path: Path) -> bool:
        return database_has_data({"ENGINE": "bastion.lib.sqlite", "NAME": str(path)})

    (tmp_path / "empty.sqlite3").touch()
    (tmp_path / "junk.sqlite3").write_bytes(b"not a database at all" * 100)
    assert not has(tmp_path / "missing.sqlite3")
    assert not has(tmp_path / "empty.sqlite3")
    assert has(tmp_path / "junk.sqlite3")  # cannot tell: a restore must not overwrite it unasked
    assert not has(sqlite_file(tmp_path / "unmigrated.sqlite3", []))
    assert has(sqlite_file(tmp_path / "migrated.sqlite3", ["accounts"]))
    assert not (tmp_path / "missing.sqlite3").exists()  # looking never creates a database


def test_it_refuses_to_restore_a_dump_into_another_engine(tmp_path: Path) -> None:
    entry = {"ENGINE": "django.db.backends.postgresql", "NAME": "bastion"}
    with pytest.raises(
        BackupError, match="holds a sqlite database but the configured database is postgresql"
    ):
        restore_database(tmp_path / "x.sqlite3", engine="sqlite", settings_dict=entry)


def test_an_unknown_engine_is_refused_by_name() -> None:
    with pytest.raises(BackupError, match=r"django\.db\.backends\.mysql"):
        engine_of({"ENGINE": "django.db.backends.mysql"})


def test_pg_tool_prefers_the_newest_versioned_client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for version in ("9.6", "15", "16"):
        directory = tmp_path / "postgresql" / version / "bin"
        directory.mkdir(parents=True)
        (directory / "pg_dump").write_text("#!/bin/sh\n")
        (directory / "pg_dump").chmod(0o755)
    monkeypatch.setattr(snapshots, "PG_BIN_GLOB", f"{tmp_path}/postgresql/*/bin")
    assert pg_tool("pg_dump") == str(tmp_path / "postgresql" / "16" / "bin" / "pg_dump")


def test_a_missing_postgresql_client_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(snapshots, "PG_BIN_GLOB", f"{tmp_path}/none/*/bin")
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(PostgresToolMissing, match="pg_restore is missing; install the PostgreSQL client"):
        pg_tool("pg_restore")


@pytest.mark.parametrize("move", [False, True])
def test_a_sqlite_snapshot_replaces_the_database_and_its_stale_wal(tmp_path: Path, move: bool) -> None:
    live = sqlite_file(tmp_path / "live.sqlite3", ["old"])
    Path(f"{live}-wal").write_bytes(b"a write-ahead log of the old database")
    snapshot = sqlite_file(tmp_path / "snapshot.sqlite3", ["restored", "rows"])
    entry = {"ENGINE": "bastion.lib.sqlite", "NAME": str(live)}

    restore_database(snapshot, engine="sqlite", settings_dict=entry, move=move)

    with sqlite3.connect(live) as db:
        assert db.execute("SELECT count(*) FROM django_migrations").fetchone() == (2,)
    assert not Path(f"{live}-wal").exists()
    assert snapshot.exists() is not move  # moved: renamed into place, not copied
