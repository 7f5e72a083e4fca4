"""Small filesystem helpers private to the vault.

Private files and directories, fsync of a directory, and the writeback thread that backup and
restore use to keep the disk busy while they work.
"""

from __future__ import annotations

import ctypes
import logging
import os
import queue
import threading
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)
SYNC_FILE_RANGE_WRITE = 2  # <fcntl.h>: start writeback of the range's dirty pages; do not wait


def private_dir(path: Path) -> Path:
    """Create ``path`` (and parents) and make it 0700, whatever the umask or its previous mode."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    # mkdir's mode is filtered by the umask and ignored for an existing dir: say it plainly.
    path.chmod(0o700)
    return path


def fsync_dir(path: Path) -> None:
    """Flush a directory entry to disk, so a rename or link inside it survives a power cut."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def create_private_file(path: Path) -> int:
    """Open a new file for writing, mode 0600; fails if anything (even a symlink) is at ``path``."""
    # O_EXCL + O_NOFOLLOW: never write through a planted symlink or into someone else's file.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    # The umask can only remove bits from 0600, but state the mode rather than rely on it.
    os.fchmod(fd, 0o600)
    return fd


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (0700) if missing; an existing directory keeps its mode.

    Unlike ``private_dir``, this never chmods what it did not create: the directory may be the
    system temp dir, an operator's mount point or a shared secrets directory such as /etc/bastion.
    """
    if not path.is_dir():
        private_dir(path)
    return path


def _load_sync_file_range() -> Callable[[int, int, int, int], int] | None:
    # Python has no binding for sync_file_range(2); glibc and musl both export it on Linux. The
    # process's own symbols include libc's: find_library("c") would run ldconfig at every import.
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range  # CDLL calls release the GIL
    except (OSError, AttributeError, TypeError):  # not Linux, or no libc to be found
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    function.restype = ctypes.c_int
    return function


_sync_file_range = _load_sync_file_range()


class Writeback:
    """Starts the disk on files while they are still being written, from a thread of its own.

    A big write followed by one fsync (or sync) waits at the end for everything to reach the disk:
    ~3 s for a 2 GiB archive or restore here (benchmarks/README.md). Handing each file (or each
    16 MiB of a big one) to :meth:`push` starts its writeback early, so the disk works while we
    are still encrypting or decrypting, and the final fsync, which is still what makes the data
    durable, finds little left. The calls happen in this thread because sync_file_range(2) does
    the filesystem's writeback work in its caller and can wait for the journal: on the data path
    it stalled gpg. Best effort throughout: where the call is missing, or the queue is full
    because the disk is behind anyway, the final sync simply does that share, as before.
    """

    def __init__(self, depth: int = 64) -> None:
        self._pending: queue.Queue[int | None] = queue.Queue(depth)  # dup'd fds: at most ``depth`` open
        self._thread: threading.Thread | None = None
        if _sync_file_range is not None:
            self._thread = threading.Thread(target=self._run, name="writeback", daemon=True)
            self._thread.start()

    def push(self, fd: int) -> None:
        """Start writing ``fd``'s dirty pages to disk soon; returns at once (``fd`` stays the caller's)."""
        if self._thread is None:
            return
        try:
            copy = os.dup(fd)  # the caller may close its fd before this thread gets to it
        except OSError:  # out of descriptors: the final sync does this file's share
            return
        try:
            self._pending.put_nowait(copy)
        except queue.Full:
            os.close(copy)

    def _run(self) -> None:
        assert _sync_file_range is not None  # the thread is started only when it exists
        while (fd := self._pending.get()) is not None:
            try:
                _sync_file_range(fd, 0, 0, SYNC_FILE_RANGE_WRITE)  # 0 bytes: to the end of the file
            except Exception:  # best effort: the thread must live on to close what it holds
                logger.debug("sync_file_range failed; the final sync will do the work", exc_info=True)
            finally:
                os.close(fd)

    def close(self) -> None:
        """Let the thread finish what it was given (it only starts writes, it never waits for them)."""
        thread, self._thread = self._thread, None  # a push from now on is a no-op
        if thread is not None:
            self._pending.put(None)
            thread.join()
        while True:  # anything pushed while it stopped: close it, nothing more is to be started
            try:
                leftover = self._pending.get_nowait()
            except queue.Empty:
                return
            if leftover is not None:
                os.close(leftover)

    def __enter__(self) -> Writeback:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
