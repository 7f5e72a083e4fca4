"""Django's SQLite backend, with write transactions queued on a kernel lock instead of busy-polling.

SQLite has one write lock. A ``BEGIN IMMEDIATE`` that finds it taken does not wait in a queue: its
busy handler sleeps and retries, backing off to 100 ms naps. Under concurrent submissions that turns
into a convoy: the lock is free again after a few milliseconds, but the waiters are asleep, and
whoever retries first wins, so the unlucky request waits hundreds of milliseconds (measured: p99
620-730 ms for submissions whose own work takes about 12 ms).

So every write transaction first takes an exclusive ``flock`` on a lock file beside the database.
The kernel wakes the next waiter the moment the holder lets go, across threads (each connection has
its own open file) and processes (web workers, the task worker, commands). SQLite's own lock is then
almost always free at ``BEGIN``; its busy timeout remains the backstop for writers outside this
backend (a bare autocommit statement, another program).

Reads take no lock: WAL lets them run beside the writer. In-memory databases are left as they are.
"""

from __future__ import annotations

import fcntl
import os
from typing import Any

from django.db.backends.sqlite3 import base


class DatabaseWrapper(base.DatabaseWrapper):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._writer_fd: int | None = None  # this connection's handle on the lock file, opened once
        self._writer_locked = False

    def _start_transaction_under_autocommit(self) -> None:
        self._take_writer_lock()
        try:
            super()._start_transaction_under_autocommit()  # type: ignore[misc]  # a private hook django-stubs omits
        except BaseException:
            self._release_writer_lock()
            raise

    def _commit(self) -> None:
        try:
            super()._commit()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer_lock()

    def _rollback(self) -> None:
        try:
            super()._rollback()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer_lock()

    def _close(self) -> None:
        try:
            super()._close()  # type: ignore[misc]  # a private hook django-stubs omits
        finally:
            self._release_writer_lock()
            if self._writer_fd is not None:
                os.close(self._writer_fd)
                self._writer_fd = None

    def _take_writer_lock(self) -> None:
        if self._writer_locked or self.is_in_memory_db():
            return
        if self._writer_fd is None:
            path = f"{self.settings_dict['NAME']}-writers"
            self._writer_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Blocks in the kernel with the GIL released; no timeout, because every holder is a
        # transaction of ours that ends, and SQLite would make it wait just the same.
        fcntl.flock(self._writer_fd, fcntl.LOCK_EX)
        self._writer_locked = True

    def _release_writer_lock(self) -> None:
        if self._writer_locked and self._writer_fd is not None:
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
        self._writer_locked = False
