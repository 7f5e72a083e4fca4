"""Key status and the retirement rule: what keeps an old master key version alive, and retiring it."""

from __future__ import annotations

import uuid
from collections import Counter
from pathlib import Path

import pytest

from bastion.vault import rotation
from bastion.vault.envelope import unwrap_data_key
from bastion.vault.errors import MasterKeyUnavailable
from bastion.vault.keyring import RetirementRefused, key_status, retirable_versions, retire_versions
from bastion.vault.keys import FileKeyProvider
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, DataKey
from bastion.vault.orgkey import ensure_org_key
from bastion.vault.rotation import rotate
from bastion.vault.sealing import seal_text, unseal_text
from bastion.vault.services import create_data_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _state_dir(settings, tmp_path: Path) -> None:
    settings.VAULT_STATE_DIR = tmp_path / "state"


def make_keys(count: int, provider: FileKeyProvider) -> list[DataKey]:
    return [create_data_key(subject=f"report:{uuid.uuid4()}", provider=provider)[0] for _ in range(count)]


def archive(name: str, versions: list[int], state: str = BackupState.STORED, *copies: str) -> Backup:
    backup = Backup.objects.create(name=name, state=state, master_versions=versions)
    for number, copy_state in enumerate(copies):
        BackupCopy.objects.create(backup=backup, destination=f"disk{number}", state=copy_state)
    return backup


def test_status_counts_live_and_destroyed_keys_per_version_and_what_awaits_rewrap(provider):
    old = make_keys(3, provider)
    old[0].shred()
    provider.add_version()
    make_keys(2, provider)

    status = key_status(provider=provider)

    v1, v2 = status.versions
    assert (v1.version, v1.current, v1.live_data_keys, v1.destroyed_data_keys) == (1, False, 2, 1)
    assert (v2.version, v2.current, v2.live_data_keys, v2.destroyed_data_keys) == (2, True, 2, 0)
    assert status.current_version == 2
    assert status.pending_rewrap == 2
    assert "2 live data keys" in v1.blocked_by
    assert v2.blocked_by == "it is the current version"
    assert status.retirable == []


def test_status_shows_the_org_key_its_expiry_and_sealed_secrets(provider):
    org_key, _ = ensure_org_key(provider=provider)

    status = key_status(provider=provider)

    assert status.org_key is not None
    assert org_key.expires_at is not None  # the keys we generate always expire
    assert status.org_key.fingerprint == org_key.fingerprint
    assert status.org_key.expires_at == org_key.expires_at
    assert status.org_key.master_version == 1
    assert status.versions[0].sealed_secrets["org-key"] == 1
    assert status.as_dict()["org_key"]["expires_at"] == org_key.expires_at.isoformat()


def test_status_generates_no_key_on_an_empty_instance(provider):
    status = key_status(provider=provider)

    assert (status.current_version, status.versions, status.org_key) == (None, [], None)
    assert provider.versions() == []


def test_a_fully_rotated_old_version_with_no_archives_is_retirable(provider):
    make_keys(3, provider)
    rotate(provider=provider)

    assert retirable_versions(provider=provider) == [1]


def test_a_sealed_secret_still_on_an_old_version_blocks_it(provider, monkeypatch):
    make_keys(1, provider)
    rotate(provider=provider)
    monkeypatch.setitem(
        rotation._holders,
        "lingering",
        rotation.SealedSecretHolder("lingering", versions=lambda: Counter({1: 2}), reseal=lambda p: 0),
    )

    (v1, _v2) = key_status(provider=provider).versions

    assert not v1.retirable
    assert "lingering (2)" in v1.blocked_by


@pytest.mark.parametrize(
    ("state", "copies", "blocks"),
    [
        (BackupState.STORED, [CopyState.STORED], True),
        (BackupState.STORED, [CopyState.PRUNED, CopyState.STORED], True),
        (BackupState.STORED, [CopyState.FAILED], True),  # the upload's outcome is unknown
        (BackupState.RUNNING, [], True),
        (BackupState.STORED, [CopyState.PRUNED, CopyState.PRUNED], False),
        (BackupState.FAILED, [], False),  # never written anywhere
    ],
)
def test_an_archive_that_may_still_exist_keeps_the_versions_it_holds(provider, state, copies, blocks):
    make_keys(1, provider)
    archive("bastion-20250101T000000Z", [1], state, *copies)
    rotate(provider=provider)

    v1 = key_status(provider=provider).versions[0]

    assert v1.retirable is not blocks
    if blocks:
        assert "bastion-20250101T000000Z" in v1.blocked_by
        assert "pruned" in v1.blocked_by


def test_an_archive_of_other_versions_does_not_block(provider):
    make_keys(1, provider)
    rotate(provider=provider)
    archive("bastion-new", [2], BackupState.STORED, CopyState.STORED)

    assert retirable_versions(provider=provider) == [1]


def test_a_running_backup_whose_versions_are_not_known_yet_blocks_every_old_version(provider):
    make_keys(1, provider)
    rotate(provider=provider)
    archive("bastion-running", [], BackupState.RUNNING)

    assert retirable_versions(provider=provider) == []


def test_retiring_deletes_the_key_so_an_old_archives_wrapped_keys_no_longer_open(provider):
    row, plain = create_data_key(subject="report:kept", provider=provider)
    token = seal_text("still here", key=plain, model_label="tests.Secret", field="body", row_id=1)
    archived_wrapped = bytes(row.wrapped)  # what an archive made before the rotation holds
    rotate(provider=provider)
    retired_now: list[int] = []

    assert retire_versions(provider=provider, on_retired=retired_now.append) == [1]

    assert retired_now == [1]
    assert not provider.path(1).exists()
    with pytest.raises(MasterKeyUnavailable):
        unwrap_data_key(archived_wrapped, master_version=1, subject="report:kept", provider=provider)
    key = DataKey.objects.get(subject="report:kept").unwrap(provider=provider)
    assert unseal_text(token, key=key, model_label="tests.Secret", field="body", row_id=1) == "still here"
    after = key_status(provider=provider).versions
    assert [entry.version for entry in after] == [2]


def test_retiring_a_blocked_version_is_refused_with_the_reason_and_destroys_nothing(provider):
    make_keys(1, provider)
    rotate(provider=provider)
    archive("bastion-old", [1], BackupState.STORED, CopyState.STORED)

    with pytest.raises(RetirementRefused, match=r"version 1: 1 catalogued archives .* bastion-old"):
        retire_versions(provider=provider, versions=[1])

    assert provider.versions() == [1, 2]


@pytest.mark.parametrize(("version", "reason"), [(2, "the current version"), (7, "no such version")])
def test_retiring_the_current_or_an_unknown_version_is_refused(provider, version, reason):
    make_keys(1, provider)
    rotate(provider=provider)

    with pytest.raises(RetirementRefused, match=reason):
        retire_versions(provider=provider, versions=[1, version])

    assert provider.versions() == [1, 2]


def test_with_nothing_retirable_it_retires_nothing(provider):
    make_keys(1, provider)

    assert retire_versions(provider=provider) == []
    assert provider.versions() == [1]


class ReadOnlyProvider:
    """Two versions it can open, and no way to destroy either."""

    def __init__(self, inner: FileKeyProvider) -> None:
        self.inner = inner

    def versions(self) -> list[int]:
        return self.inner.versions()

    def current_version(self) -> int:
        return self.inner.current_version()

    def master_key(self, version: int) -> bytes:
        return self.inner.master_key(version)


def test_a_provider_that_cannot_destroy_keys_says_so(provider):
    make_keys(1, provider)
    rotate(provider=provider)

    with pytest.raises(RetirementRefused, match="cannot destroy key versions: remove version"):
        retire_versions(provider=ReadOnlyProvider(provider))

    assert provider.versions() == [1, 2]


def test_the_file_provider_never_deletes_its_current_key(provider):
    provider.current_version()

    with pytest.raises(ValueError, match="current one: rotate before retiring it"):
        provider.retire(1)

    assert provider.path(1).exists()
