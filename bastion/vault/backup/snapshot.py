"""A consistent copy of the database, taken while the web and the worker keep writing, and its restore.

SQLite: the online backup API, through a connection of our own to the live file, so it sees one
committed state (WAL lets the writers carry on meanwhile). PostgreSQL: ``pg_dump`` in its custom
format, restored with ``pg_restore`` in a single transaction.
"""

from __future__ import annotations

import copy
import os
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from django.db import connections

from bastion.vault._files import create_private_file, ensure_dir, fsync_dir
from bastion.vault.backup.errors import BackupError, PostgresToolMissing

SQLITE, POSTGRESQL = "sqlite", "postgresql"
MEMBERS = {SQLITE: "database/bastion.sqlite3", POSTGRESQL: "database/bastion.pgdump"}
COPY_CHUNK = 1 << 20
PG_BIN_GLOB = "/usr/lib/postgresql/*/bin"
SettingsDict = Mapping[str, Any]


@dataclass(frozen=True)
class Snapshot:
    """A database snapshot file, which engine made it, and its member name in an archive."""

    path: Path
    engine: str  # "sqlite" | "postgresql"
    member: str


def engine_of(settings_dict: SettingsDict) -> str:
    """``"sqlite"`` or ``"postgresql"`` from a DATABASES entry; BackupError for anything else."""
    engine = str(settings_dict.get("ENGINE", ""))
    if "postgresql" in engine:
        return POSTGRESQL
    if "sqlite" in engine:  # ours is bastion.lib.sqlite; Django's own works the same way
        return SQLITE
    raise BackupError(f"cannot back up a database with ENGINE {engine!r}: only SQLite and PostgreSQL")


def _sqlite_uri(path: Path, mode: str) -> str:
    # mode=rw never creates a file: a missing live database must fail, not be backed up as empty.
    return f"file:{quote(str(path))}?mode={mode}"


def snapshot_database(into_dir: Path, *, alias: str = "default") -> Snapshot:
    """Take a consistent snapshot of database ``alias`` into a new file under ``into_dir``."""
    settings_dict = connections[alias].settings_dict
    engine = engine_of(settings_dict)
    ensure_dir(into_dir)
    member = MEMBERS[engine]
    target = into_dir / Path(member).name
    if target.exists():
        raise BackupError(f"a snapshot is already at {target}; remove it or use a fresh work directory")
    if engine == SQLITE:
        _snapshot_sqlite(Path(settings_dict["NAME"]), target)
    else:
        _snapshot_postgresql(settings_dict, target)
    return Snapshot(path=target, engine=engine, member=member)


def _snapshot_sqlite(live: Path, target: Path) -> None:
    try:
        source = sqlite3.connect(_sqlite_uri(live, "rw"), uri=True)
    except sqlite3.OperationalError as exc:
        raise BackupError(f"cannot open the SQLite database {live} to back it up: {exc}") from None
    try:
        os.close(create_private_file(target))  # 0600 from the start: the copy holds sealed data
        dest = sqlite3.connect(target)
        try:
            # pages=-1: one step, so the copy reads a single committed state. Stepwise copying
            # restarts whenever a writer commits between steps, and might never finish.
            source.backup(dest, pages=-1)
            # The copy inherits WAL mode; DELETE makes it one self-contained file for the archive.
            dest.execute("PRAGMA journal_mode=DELETE")
        finally:
            dest.close()
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    finally:
        source.close()


def pg_tool(name: str) -> str:
    """The path of a PostgreSQL client program: the newest ``/usr/lib/postgresql/*/bin``, else PATH.

    The newest versioned one first: Debian's PATH wrapper may pick an older client, and pg_dump
    refuses to dump a server newer than itself.
    """
    bins = sorted(Path("/").glob(PG_BIN_GLOB.lstrip("/")), key=_version_key, reverse=True)
    for directory in bins:
        candidate = directory / name
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise PostgresToolMissing(
            f"{name} is missing; install the PostgreSQL client (apt-get install postgresql-client)"
        )
    return found


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name))


def _pg_env(settings_dict: SettingsDict) -> dict[str, str]:
    env = dict(os.environ)
    # PGPASSWORD in the child's environment, never on its command line (visible in ps).
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = str(settings_dict["PASSWORD"])
    return env


def _pg_args(settings_dict: SettingsDict) -> list[str]:
    args = []
    for option, key in (("--host", "HOST"), ("--port", "PORT"), ("--username", "USER")):
        if settings_dict.get(key):
            args.append(f"{option}={settings_dict[key]}")
    return args


def _run_pg(args: list[str], settings_dict: SettingsDict, *, what: str) -> None:
    result = subprocess.run(  # noqa: S603 - fixed PostgreSQL client command lines; no shell
        args, env=_pg_env(settings_dict), capture_output=True, check=False
    )
    if result.returncode != 0:
        lines = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise BackupError(f"{what} failed: {lines[-1] if lines else f'exit status {result.returncode}'}")


def _snapshot_postgresql(settings_dict: SettingsDict, target: Path) -> None:
    os.close(create_private_file(target))
    try:
        _run_pg(
            [
                pg_tool("pg_dump"),
                "--format=custom",
                "--no-owner",
                "--no-privileges",
                f"--file={target}",
                *_pg_args(settings_dict),
                "--",
                str(settings_dict["NAME"]),
            ],
            settings_dict,
            what="pg_dump",
        )
    except BaseException:
        target.unlink(missing_ok=True)
        raise


def restore_database(
    snapshot_file: Path, *, engine: str, settings_dict: SettingsDict, move: bool = False
) -> None:
    """Put ``snapshot_file`` in place as the database of ``settings_dict``.

    The caller closes Django's connections to it first, and decides whether overwriting is allowed
    (:func:`database_has_data`). ``move``: the file is a durable scratch copy the caller no longer
    needs, so on the same filesystem (SQLite) it is renamed into place rather than copied.
    """
    if engine != engine_of(settings_dict):
        raise BackupError(
            f"this archive holds a {engine} database but the configured database is "
            f"{engine_of(settings_dict)}; restore it into a {engine} database"
        )
    if engine == SQLITE:
        _restore_sqlite(snapshot_file, Path(settings_dict["NAME"]), move=move)
    else:
        _run_pg(
            [
                pg_tool("pg_restore"),
                "--clean",
                "--if-exists",
                "--no-owner",
                "--no-privileges",
                "--single-transaction",
                "--exit-on-error",
                *_pg_args(settings_dict),
                f"--dbname={settings_dict['NAME']}",
                "--",
                str(snapshot_file),
            ],
            settings_dict,
            what="pg_restore",
        )


def _restore_sqlite(snapshot_file: Path, live: Path, *, move: bool) -> None:
    """Atomic: a full copy beside the target, fsynced, renamed over it; a crash leaves old or new.

    With ``move`` and both on one filesystem, the copy is skipped: the snapshot itself is renamed.
    """
    directory = ensure_dir(live.parent)
    # Staged beside the target first: if staging fails, the live database and its WAL are untouched.
    staged = directory / f".{live.name}.{secrets.token_hex(8)}.restore"
    if move and snapshot_file.stat().st_dev == directory.stat().st_dev:
        with snapshot_file.open("rb") as source:
            os.fsync(source.fileno())  # the caller's copy may not be on disk yet: it is now
        os.rename(snapshot_file, staged)
    else:
        fd = create_private_file(staged)
        try:
            with os.fdopen(fd, "wb") as out, snapshot_file.open("rb") as source:
                shutil.copyfileobj(source, out, COPY_CHUNK)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            staged.unlink(missing_ok=True)
            raise
    _swap_in(staged, live)


def _swap_in(staged: Path, live: Path) -> None:
    """Rename the durable ``staged`` database over ``live``, dropping the old one's WAL first."""
    try:
        # A WAL left by the old database would be replayed into the new one: remove it first.
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{live}{suffix}").unlink(missing_ok=True)
        os.replace(staged, live)
    except BaseException:
        staged.unlink(missing_ok=True)
        raise
    fsync_dir(live.parent)


def database_has_data(settings_dict: SettingsDict) -> bool:
    """Whether the database of ``settings_dict`` already holds a Bastion database (applied migrations)."""
    if engine_of(settings_dict) == SQLITE:
        path = Path(settings_dict["NAME"])
        if not path.exists() or path.stat().st_size == 0:
            return False
        try:
            with _closing(sqlite3.connect(_sqlite_uri(path, "ro"), uri=True)) as db:
                row = db.execute("SELECT count(*) FROM django_migrations").fetchone()
        except sqlite3.DatabaseError as error:
            # Only a database without our table is empty. Locked, unreadable, not a database at all:
            # we cannot tell, and "cannot tell" must not let a restore overwrite it without --force.
            return "no such table" not in str(error)
        return bool(row and row[0])
    with _pg_connect(settings_dict) as pg, pg.cursor() as cursor:
        cursor.execute("SELECT to_regclass('django_migrations') IS NOT NULL")
        found = cursor.fetchone()
        if not found or not found[0]:
            return False
        cursor.execute("SELECT EXISTS (SELECT 1 FROM django_migrations)")
        rows = cursor.fetchone()
        return bool(rows and rows[0])


@contextmanager
def _closing(db: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield db
    finally:
        db.close()


def _pg_connect(settings_dict: SettingsDict, *, dbname: str | None = None) -> Any:
    import psycopg  # only PostgreSQL deployments need it

    params: dict[str, Any] = {
        "dbname": dbname or settings_dict["NAME"],
        "host": settings_dict.get("HOST") or None,
        "port": settings_dict.get("PORT") or None,
        "user": settings_dict.get("USER") or None,
        "password": settings_dict.get("PASSWORD") or None,
    }
    return psycopg.connect(**{key: value for key, value in params.items() if value}, autocommit=True)


@contextmanager
def scratch_database(work_dir: Path, *, engine: str) -> Iterator[dict[str, Any]]:
    """A DATABASES entry for a new, empty scratch database; dropped or deleted at exit, whatever happens.

    Based on the default database's entry, so a ``connections.databases[alias] = entry`` works
    as is. SQLite: a file in a private directory under ``work_dir``. PostgreSQL: a new database
    on the default database's server (its user needs CREATEDB).
    """
    base = connections["default"].settings_dict
    if engine_of(base) != engine:
        raise BackupError(f"a {engine} scratch database needs a {engine} default database")
    entry: dict[str, Any] = copy.deepcopy(dict(base))
    entry["CONN_MAX_AGE"] = 0  # scratch: nothing should keep a connection to it open
    if engine == SQLITE:
        ensure_dir(work_dir)
        directory = Path(tempfile.mkdtemp(prefix="scratch-db-", dir=work_dir))
        entry["NAME"] = str(directory / "bastion.sqlite3")
        entry["TEST"] = {**entry.get("TEST", {}), "NAME": entry["NAME"]}
        try:
            yield entry
        finally:
            shutil.rmtree(directory, ignore_errors=True)
        return
    from psycopg import sql

    name = f"bastion_drill_{secrets.token_hex(6)}"
    entry["NAME"] = name
    entry["TEST"] = {**entry.get("TEST", {}), "NAME": name}
    with _pg_connect(base) as pg:
        # template0: an empty database, whatever extensions someone added to template1.
        pg.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    try:
        yield entry
    finally:
        with _pg_connect(base) as pg:
            # FORCE: a connection a failed drill left open must not keep the scratch database alive.
            pg.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
