"""Directories for backup work, created private but never re-permissioned if they already exist."""

from __future__ import annotations

from pathlib import Path

from bastion.vault._files import private_dir


def ensure_dir(path: Path) -> Path:
    """Create ``path`` (0700) if missing; an existing directory keeps its mode.

    Unlike ``private_dir``, this never chmods what it did not create: the parent may be the
    system temp dir or an operator's mount point, which must stay as they are.
    """
    if not path.is_dir():
        private_dir(path)
    return path
