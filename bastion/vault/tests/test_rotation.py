"""Master-key rotation: batches, resuming after a crash, shreds racing it, and resealed secrets."""

from __future__ import annotations

import base64
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connections
from django.utils import timezone

from bastion.vault import rotation
from bastion.vault.keys import EnvKeyProvider, FileKeyProvider, KeyProvider, SingleFileKeyProvider
from bastion.vault.models import DataKey, OrgKey
from bastion.vault.orgkey import ensure_org_key, get_org_key
from bastion.vault.rotation import RotationError, rotate, token_version
from bastion.vault.sealing import seal_text, unseal_text
from bastion.vault.services import create_data_key

LABEL = "tests.Secret"


@dataclass
class Sealed:
    """A subject's data key row and a text sealed under it, as a report's field would be."""

    subject: str
    token: bytes
    text: str


@pytest.fixture(autouse=True)
def _state_dir(settings, tmp_path: Path) -> None:
    settings.VAULT_STATE_DIR = tmp_path / "state"


def seal_many(count: int, provider: FileKeyProvider) -> list[Sealed]:
    made = []
    for number in range(count):
        subject = f"report:{uuid.uuid4()}"
        _row, key = create_data_key(subject=subject, provider=provider)
        text = f"finding {number}"
        token = seal_text(text, key=key, model_label=LABEL, field="body", row_id=number)
        made.append(Sealed(subject=subject, token=token, text=text))
    return made


def opened(items: list[Sealed], provider: FileKeyProvider) -> list[str]:
    """Every sealed text, opened through its data key as stored now."""
    texts = []
    for number, item in enumerate(items):
        key = DataKey.objects.get(subject=item.subject).unwrap(provider=provider)
        texts.append(unseal_text(item.token, key=key, model_label=LABEL, field="body", row_id=number))
    return texts


def versions_in_use() -> list[int]:
    return sorted(set(DataKey.objects.values_list("master_version", flat=True)))


@pytest.mark.django_db
def test_it_adds_a_version_and_rewraps_every_data_key_in_batches(provider):
    items = seal_many(300, provider)
    seen: list[tuple[int, int]] = []

    result = rotate(provider=provider, batch_size=7, progress=lambda done, total: seen.append((done, total)))

    assert (result.version, result.resumed, result.rewrapped) == (2, False, 300)
    assert provider.versions() == [1, 2]
    assert versions_in_use() == [2]
    assert opened(items, provider) == [item.text for item in items]
    assert seen[0] == (0, 300)
    assert seen[-1] == (300, 300)
    assert len(seen) == 1 + -(-300 // 7)  # the start, then one call per batch


@pytest.mark.django_db
def test_a_rotation_killed_half_way_leaves_every_key_usable_and_a_rerun_resumes(provider, monkeypatch):
    items = seal_many(50, provider)
    real_wrap = rotation.wrap_data_key
    wrapped_so_far = 0

    def dies_in_the_fourth_batch(*args, **kwargs):
        nonlocal wrapped_so_far
        wrapped_so_far += 1
        if wrapped_so_far == 3 * 10 + 4:
            raise KeyboardInterrupt  # the operator's Ctrl-C, half-way through a batch
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(rotation, "wrap_data_key", dies_in_the_fourth_batch)
    with pytest.raises(KeyboardInterrupt):
        rotate(provider=provider, batch_size=10)

    # Three batches committed, the fourth rolled back whole: old and new rows side by side.
    assert DataKey.objects.filter(master_version=2).count() == 30
    assert DataKey.objects.filter(master_version=1).count() == 20
    assert opened(items, provider) == [item.text for item in items]

    monkeypatch.setattr(rotation, "wrap_data_key", real_wrap)
    result = rotate(provider=provider, batch_size=10)

    assert (result.version, result.resumed, result.rewrapped) == (2, True, 20)
    assert provider.versions() == [1, 2]  # resumed: no third version
    assert versions_in_use() == [2]
    assert opened(items, provider) == [item.text for item in items]


@pytest.mark.django_db
def test_a_shred_landing_inside_a_batch_is_never_undone(provider, monkeypatch):
    seal_many(5, provider)
    victim = DataKey.objects.order_by("master_version", "id")[0]
    real_wrap = rotation.wrap_data_key
    shredded = False

    def shred_mid_batch(*args, **kwargs):
        # The worst case: the shred's UPDATE lands after the batch read its rows.
        nonlocal shredded
        if not shredded:
            shredded = True
            DataKey.objects.filter(pk=victim.pk).update(wrapped=b"", destroyed_at=timezone.now())
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(rotation, "wrap_data_key", shred_mid_batch)
    result = rotate(provider=provider, batch_size=10)

    victim.refresh_from_db()
    assert victim.is_destroyed
    assert bytes(victim.wrapped) == b""
    assert result.rewrapped == 5  # counted as read; its write was refused by the filter
    assert DataKey.objects.filter(destroyed_at__isnull=True, master_version=2).count() == 4


@pytest.mark.django_db(transaction=True)
def test_a_concurrent_shred_waits_for_the_batch_and_then_wins(provider, monkeypatch):
    seal_many(6, provider)
    victim = DataKey.objects.order_by("master_version", "id")[0]
    real_wrap = rotation.wrap_data_key
    shredder: list[threading.Thread] = []

    def shred_victim() -> None:
        try:
            DataKey.objects.get(pk=victim.pk).shred()
        finally:
            connections.close_all()

    def start_a_shred_during_the_first_batch(*args, **kwargs):
        if not shredder:
            shredder.append(threading.Thread(target=shred_victim))
            shredder[0].start()
            time.sleep(0.5)  # the shred is now blocked on the batch's lock
        return real_wrap(*args, **kwargs)

    monkeypatch.setattr(rotation, "wrap_data_key", start_a_shred_during_the_first_batch)
    rotate(provider=provider, batch_size=3)
    shredder[0].join(timeout=30)

    victim.refresh_from_db()
    assert victim.is_destroyed
    assert bytes(victim.wrapped) == b""
    assert DataKey.objects.filter(destroyed_at__isnull=True, master_version=2).count() == 5


@pytest.mark.django_db
def test_already_shredded_keys_are_left_alone(provider):
    seal_many(3, provider)
    shredded = DataKey.objects.all()[0]
    shredded.shred()

    result = rotate(provider=provider)

    shredded.refresh_from_db()
    assert result.rewrapped == 2
    assert (bytes(shredded.wrapped), shredded.master_version) == (b"", 1)


@pytest.mark.django_db
def test_the_org_key_is_resealed_and_still_opens(provider):
    org_key, _ = ensure_org_key(provider=provider)
    sealed_before = bytes(OrgKey.objects.get().sealed_secret)

    result = rotate(provider=provider)

    assert result.resealed["org-key"] == 1
    row = OrgKey.objects.get()
    assert (token_version(sealed_before), token_version(row.sealed_secret), row.master_version) == (1, 2, 2)
    assert get_org_key(provider=provider).fingerprint == org_key.fingerprint


@pytest.mark.django_db
def test_a_rerun_after_resealing_stopped_finishes_the_secrets_without_a_new_version(provider, monkeypatch):
    ensure_org_key(provider=provider)
    monkeypatch.setattr(rotation, "_holders", {})  # a rotation that died before resealing anything
    rotate(provider=provider)
    monkeypatch.undo()

    result = rotate(provider=provider)

    assert (result.version, result.resumed, result.resealed["org-key"]) == (2, True, 1)
    assert provider.versions() == [1, 2]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["single file", "env"])
def test_it_says_how_to_rotate_when_the_provider_holds_one_version(kind, tmp_path, monkeypatch):
    key = base64.b64encode(bytes(32)).decode()
    provider: KeyProvider
    if kind == "env":
        monkeypatch.setenv("BASTION_MASTER_KEY", key)
        provider = EnvKeyProvider()
    else:
        (tmp_path / "master.key").write_text(key)
        provider = SingleFileKeyProvider(tmp_path / "master.key")

    with pytest.raises(RotationError, match="BASTION_MASTER_KEY_DIR"):
        rotate(provider=provider)


@pytest.mark.django_db
def test_it_stops_before_changing_anything_when_an_old_key_is_missing(provider):
    seal_many(4, provider)
    provider.add_version()
    provider.path(1).unlink()

    with pytest.raises(RotationError, match="version 1, which cannot be opened"):
        rotate(provider=provider)

    assert versions_in_use() == [1]
    assert provider.versions() == [2]
