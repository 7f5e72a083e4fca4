"""Fixtures for the vault tests: real local key files and storage under a per-test temp dir."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from bastion.vault.envelope import new_data_key
from bastion.vault.keys import FileKeyProvider
from bastion.vault.testing import moto_s3_server


@pytest.fixture(autouse=True)
def master_key_dir(settings, tmp_path: Path) -> Path:
    """Each test gets its own master key directory (and the default provider reads it)."""
    directory = tmp_path / "keys"
    settings.MASTER_KEY_DIR = directory
    settings.MASTER_KEY_FILE = ""
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.FileKeyProvider"
    return directory


@pytest.fixture
def provider(master_key_dir: Path) -> FileKeyProvider:
    return FileKeyProvider(master_key_dir)


@pytest.fixture
def data_key() -> bytes:
    return new_data_key()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on loopback for the whole session (tests use fresh, uniquely named buckets)."""
    with moto_s3_server() as endpoint:
        yield endpoint
