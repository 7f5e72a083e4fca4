import base64
import os
import stat
import threading

import pytest
from django.core.exceptions import ImproperlyConfigured

from bastion.vault.errors import MasterKeyUnavailable
from bastion.vault.keys import (
    EnvKeyProvider,
    FileKeyProvider,
    KeyProvider,
    SingleFileKeyProvider,
    get_key_provider,
)


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_the_first_use_creates_a_private_version_one_key(provider, master_key_dir):
    assert provider.versions() == []

    assert provider.current_version() == 1

    key_file = master_key_dir / "master-v1.key"
    assert mode(key_file) == 0o600
    assert mode(master_key_dir) == 0o700
    assert len(provider.master_key(1)) == 32


def test_the_key_is_reused_not_regenerated(provider):
    provider.current_version()
    first = provider.master_key(1)

    assert FileKeyProvider(provider.directory).current_version() == 1
    assert FileKeyProvider(provider.directory).master_key(1) == first


def test_concurrent_first_runs_agree_on_one_key(provider):
    barrier = threading.Barrier(8)
    keys: list[bytes] = []

    def start() -> None:
        fresh = FileKeyProvider(provider.directory)
        barrier.wait()
        keys.append(fresh.master_key(fresh.current_version()))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(keys) == 8
    assert len(set(keys)) == 1
    assert sorted(p.name for p in provider.directory.iterdir()) == ["master-v1.key"]


def test_a_new_version_becomes_current_and_old_ones_stay_readable(provider):
    provider.current_version()
    old = provider.master_key(1)

    assert provider.add_version() == 2

    assert provider.current_version() == 2
    assert provider.versions() == [1, 2]
    assert provider.master_key(1) == old
    assert provider.master_key(2) != old


def test_a_missing_version_is_reported_as_unavailable(provider):
    provider.current_version()

    with pytest.raises(MasterKeyUnavailable):
        provider.master_key(7)


def test_a_raw_32_byte_key_file_is_accepted(master_key_dir):
    master_key_dir.mkdir()
    raw = os.urandom(32)
    (master_key_dir / "master-v3.key").write_bytes(raw)

    provider = FileKeyProvider(master_key_dir)

    assert provider.current_version() == 3
    assert provider.master_key(3) == raw


@pytest.mark.parametrize("content", [b"", b"too short", base64.b64encode(os.urandom(16)), b"!" * 44])
def test_a_malformed_key_file_stops_start_up(master_key_dir, content):
    master_key_dir.mkdir()
    (master_key_dir / "master-v1.key").write_bytes(content)

    with pytest.raises(ImproperlyConfigured, match=r"master-v1\.key"):
        FileKeyProvider(master_key_dir).master_key(1)


def test_unrelated_files_in_the_key_directory_are_not_versions(master_key_dir, provider):
    master_key_dir.mkdir()
    for name in ("master-v0.key", "master-vx.key", "notes.txt", ".master-v9.key.abc.tmp"):
        (master_key_dir / name).write_text("x")

    assert provider.versions() == []


def test_the_default_provider_is_the_file_provider_in_the_configured_directory(master_key_dir):
    provider = get_key_provider()

    assert isinstance(provider, FileKeyProvider)
    assert provider.directory == master_key_dir
    assert isinstance(provider, KeyProvider)


def test_a_configured_key_file_is_version_one(settings, tmp_path):
    key = os.urandom(32)
    key_file = tmp_path / "operator.key"
    key_file.write_bytes(base64.b64encode(key) + b"\n")
    settings.MASTER_KEY_FILE = str(key_file)

    provider = get_key_provider()

    assert isinstance(provider, SingleFileKeyProvider)
    assert provider.current_version() == 1
    assert provider.versions() == [1]
    assert provider.master_key(1) == key
    with pytest.raises(MasterKeyUnavailable):
        provider.master_key(2)


def test_a_configured_key_file_that_is_missing_is_never_generated(settings, tmp_path):
    settings.MASTER_KEY_FILE = str(tmp_path / "absent.key")

    with pytest.raises(ImproperlyConfigured, match="BASTION_MASTER_KEY_FILE"):
        get_key_provider().current_version()
    assert not (tmp_path / "absent.key").exists()


def test_the_env_provider_reads_a_base64_key(settings, monkeypatch):
    key = os.urandom(32)
    monkeypatch.setenv("BASTION_MASTER_KEY", base64.b64encode(key).decode())
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.EnvKeyProvider"

    provider = get_key_provider()

    assert isinstance(provider, EnvKeyProvider)
    assert provider.current_version() == 1
    assert provider.versions() == [1]
    assert provider.master_key(1) == key


def test_the_env_provider_refuses_a_missing_or_non_base64_key(monkeypatch):
    provider = EnvKeyProvider("TEST_VAULT_KEY", version=2)
    monkeypatch.delenv("TEST_VAULT_KEY", raising=False)
    with pytest.raises(MasterKeyUnavailable):
        provider.current_version()

    # 32 characters of text must not pass for a raw key.
    monkeypatch.setenv("TEST_VAULT_KEY", "a" * 32)
    with pytest.raises(ImproperlyConfigured, match="TEST_VAULT_KEY"):
        provider.current_version()

    with pytest.raises(MasterKeyUnavailable):
        provider.master_key(1)


def test_an_unknown_provider_setting_stops_start_up(settings):
    settings.VAULT_KEY_PROVIDER = "bastion.vault.keys.NoSuchProvider"
    with pytest.raises(ImproperlyConfigured, match="VAULT_KEY_PROVIDER"):
        get_key_provider()

    settings.VAULT_KEY_PROVIDER = "bastion.vault.tests.test_keys.NotAProvider"
    with pytest.raises(ImproperlyConfigured, match="does not give a KeyProvider"):
        get_key_provider()


class NotAProvider:
    @classmethod
    def from_settings(cls):
        return cls()
