"""Transactions whose commit need not wait for the disk: for counters a crash may lose.

Every commit of Bastion's is durable by default (SQLite ``synchronous=FULL``, PostgreSQL's
default): acknowledged means on disk. A few writes do not need that. The flood counters a web
submission bumps before it is stored are advisory, and their commit's fsync cost every submission
a second turn at the disk while it held SQLite's only write lock.

- SQLite (WAL): ``synchronous=NORMAL`` for that one transaction. Its commit is written to the WAL
  but not fsynced; the next durable commit, of any writer, fsyncs the whole WAL, this one with it.
  A power cut in between loses this transaction (a killed process does not: the WAL is written),
  never the database's consistency, and never a later transaction without this one: commits reach
  the log in order.
- PostgreSQL: ``SET LOCAL synchronous_commit TO OFF``, the same promise for one transaction.

Inside a caller's transaction it is a plain ``atomic()`` (a savepoint): the caller's commit decides.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@contextmanager
def lazy_commit(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """``transaction.atomic(using)``, whose commit may reach the disk after it returns."""
    connection = connections[using]
    if connection.vendor != "sqlite" or connection.in_atomic_block:
        outermost = not connection.in_atomic_block
        with transaction.atomic(using=using):
            if outermost and connection.vendor == "postgresql":  # SET LOCAL lasts to the outer commit
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL synchronous_commit TO OFF")
            yield
        return
    # SQLite refuses to change the level inside a transaction: set it before BEGIN, restore after.
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA synchronous")
        (level,) = cursor.fetchone()
        cursor.execute("PRAGMA synchronous=NORMAL")
    try:
        with transaction.atomic(using=using):
            yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA synchronous={int(level)}")
