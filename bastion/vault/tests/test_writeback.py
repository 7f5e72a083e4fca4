"""The writeback helper: best effort, never in the way, and it leaves no descriptor open.

Whether the disk really starts early is a matter of timing, measured in benchmarks/README.md; what
a test can hold it to is that it never fails a backup or restore and never leaks an fd.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from bastion.vault import _files
from bastion.vault._files import Writeback


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


@pytest.fixture
def written(tmp_path: Path):
    path = tmp_path / "archive"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"sealed bytes" * 10_000)
    yield fd
    os.close(fd)


@pytest.mark.skipif(_files._sync_file_range is None, reason="sync_file_range(2) is Linux's")
def test_pushed_files_are_handed_back_and_the_caller_may_close_its_own_at_once(written, tmp_path: Path):
    before = open_fds()
    other = os.open(tmp_path / "archive", os.O_RDONLY)
    with Writeback() as writeback:
        writeback.push(written)
        writeback.push(other)
        os.close(other)  # the thread works on its own copy
    assert open_fds() == before


def test_without_sync_file_range_it_does_nothing_and_says_nothing(written, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(_files, "_sync_file_range", None)
    before = open_fds()
    with Writeback() as writeback:
        writeback.push(written)
    assert open_fds() == before


@pytest.mark.skipif(_files._sync_file_range is None, reason="sync_file_range(2) is Linux's")
def test_out_of_descriptors_is_not_an_error(written, monkeypatch: pytest.MonkeyPatch):
    def exhausted(fd: int) -> int:
        raise OSError(errno.EMFILE, os.strerror(errno.EMFILE))

    with Writeback() as writeback:
        monkeypatch.setattr(_files.os, "dup", exhausted)
        writeback.push(written)  # the final fsync does this file's share


@pytest.mark.skipif(_files._sync_file_range is None, reason="sync_file_range(2) is Linux's")
def test_a_push_after_close_is_ignored_and_a_failing_call_keeps_the_thread(written, monkeypatch):
    calls: list[int] = []

    def refusing(fd: int, offset: int, nbytes: int, flags: int) -> int:
        calls.append(fd)
        raise OSError(errno.EIO, "refused")

    monkeypatch.setattr(_files, "_sync_file_range", refusing)
    before = open_fds()
    writeback = Writeback()
    writeback.push(written)
    writeback.push(written)  # the thread survived the first failure and closes both copies
    writeback.close()
    writeback.push(written)
    assert len(calls) == 2
    assert open_fds() == before
