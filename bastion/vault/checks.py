"""Deploy checks for the vault (``bastion check --deploy``): where the master keys live."""

from __future__ import annotations

import stat
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register

from bastion.vault.keys import DEFAULT_PROVIDER, KEY_FILE_PATTERN


def _master_key_location() -> Path | None:
    """Where the default provider keeps (or will create) master keys; None for other providers."""
    if settings.VAULT_KEY_PROVIDER != DEFAULT_PROVIDER:
        return None
    return Path(settings.MASTER_KEY_FILE or settings.MASTER_KEY_DIR)


def _master_key_files() -> list[Path]:
    """The key files the default provider would use (none for other providers)."""
    if settings.VAULT_KEY_PROVIDER != DEFAULT_PROVIDER:
        return []
    single = settings.MASTER_KEY_FILE
    if single:
        return [Path(single)]
    directory = Path(settings.MASTER_KEY_DIR)
    if not directory.is_dir():
        return []
    return sorted(path for path in directory.iterdir() if KEY_FILE_PATTERN.match(path.name))


@register(Tags.security, deploy=True)
def check_master_keys(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    """Warn when a backup of the data would carry the key that opens it, or others can read a key."""
    problems: list[Warning] = []
    files = _master_key_files()
    data_dir = Path(settings.DATA_DIR).resolve()
    location = _master_key_location()
    # The configured place, not just the files there now: a fresh instance has no key yet, and
    # check --deploy must not pass it only to generate the key inside the data dir on first use.
    if location is not None and location.resolve().is_relative_to(data_dir):
        problems.append(
            Warning(
                "The master key is inside the data directory, so every backup of that directory "
                "carries the key that decrypts it.",
                hint="Keep master keys on another volume: set BASTION_MASTER_KEY_FILE "
                "(or BASTION_MASTER_KEY_DIR) to a path outside BASTION_DATA_DIR.",
                id="vault.W001",
            )
        )
    exposed = [
        path for path in files if path.exists() and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]
    if exposed:
        problems.append(
            Warning(
                f"Master key files are accessible to other users: {', '.join(map(str, exposed))}.",
                hint="chmod 600 the key files (and 700 their directory).",
                id="vault.W002",
            )
        )
    return problems
