"""Small filesystem helpers shared by the key provider and the blob storage (private to the vault)."""

from __future__ import annotations

import os
from pathlib import Path


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
