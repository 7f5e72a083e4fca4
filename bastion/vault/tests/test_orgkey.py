"""The org OpenPGP key: generated once, sealed at rest, reused, one active key even under a race."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from bastion.lib.openpgp import SecretKey, encrypt, generate_org_key, load_public_key
from bastion.test import run_at_once
from bastion.vault import orgkey
from bastion.vault.errors import SealError
from bastion.vault.models import OrgKey
from bastion.vault.orgkey import ensure_org_key, get_org_key, get_org_public_key, org_key_user_id


@pytest.fixture
def org_key(db) -> SecretKey:
    key, created = ensure_org_key()
    assert created
    return key


def raw_row(pk: int) -> bytes:
    """Every column of the stored row, as the bytes a database dump would hold."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {OrgKey._meta.db_table} WHERE id = %s", [pk])  # noqa: S608
        values = cursor.fetchone()
    return b"\x00".join(bytes(v) if isinstance(v, bytes | memoryview) else str(v).encode() for v in values)


def test_the_secret_key_is_stored_only_sealed(org_key):
    row = OrgKey.objects.get()
    dump = raw_row(row.pk)

    assert org_key.armored_secret().encode() not in dump
    assert b"PRIVATE KEY BLOCK" not in dump
    assert org_key.secret_bytes() not in dump
    # Not even the secret key packets' bodies leak: the whole key is one AES-GCM ciphertext.
    assert org_key.secret_bytes()[-64:] not in dump
    assert row.armored_public == org_key.armored_public()
    assert b"PUBLIC KEY BLOCK" in dump


def test_it_is_generated_once_and_then_reused(org_key):
    again, created = ensure_org_key()

    assert created is False
    assert again.fingerprint == org_key.fingerprint
    assert again.armored_secret() == org_key.armored_secret()
    assert get_org_key().fingerprint == org_key.fingerprint
    assert OrgKey.objects.count() == 1


def test_its_expiry_master_version_and_user_id_are_recorded(org_key, provider, settings):
    row = OrgKey.objects.get()

    assert row.expires_at == org_key.expires_at
    assert timezone.now() + timedelta(days=700) < row.expires_at < timezone.now() + timedelta(days=760)
    assert row.master_version == provider.current_version() == 1
    assert row.fingerprint == org_key.fingerprint
    assert row.active
    assert org_key.user_ids == (f"{settings.SITE_NAME} security team <{settings.DEFAULT_FROM_EMAIL}>",)
    assert org_key_user_id() == org_key.user_ids[0]


def test_on_created_runs_only_for_the_call_that_made_the_key(db):
    seen: list[OrgKey] = []

    ensure_org_key(on_created=seen.append)
    ensure_org_key(on_created=seen.append)

    assert [row.fingerprint for row in seen] == [OrgKey.objects.get().fingerprint]


def test_a_failing_on_created_leaves_no_key_behind(db):
    def refuse(row: OrgKey) -> None:
        raise RuntimeError("audit unavailable")

    with pytest.raises(RuntimeError, match="audit unavailable"):
        ensure_org_key(on_created=refuse)

    assert not OrgKey.objects.exists()


def test_the_public_key_is_parsed_once_per_process(org_key):
    first = get_org_public_key()

    assert first.fingerprint == org_key.fingerprint
    assert get_org_public_key() is first
    # It is a usable public key: mail can be encrypted to it.
    assert encrypt(b"hello", recipients=[load_public_key(first.armored_public())]).startswith(b"-----BEGIN")


def test_the_public_key_is_generated_on_first_use_too(db):
    key = get_org_public_key()

    assert OrgKey.objects.get().fingerprint == key.fingerprint


def test_a_sealed_key_moved_to_another_row_does_not_open(org_key):
    row = OrgKey.objects.get()
    OrgKey.objects.filter(pk=row.pk).update(fingerprint="0" * 40)

    with pytest.raises(SealError):
        get_org_key()


def test_a_tampered_sealed_key_does_not_open(org_key):
    row = OrgKey.objects.get()
    sealed = bytearray(row.sealed_secret)
    sealed[-1] ^= 1
    OrgKey.objects.filter(pk=row.pk).update(sealed_secret=bytes(sealed))

    with pytest.raises(SealError):
        get_org_key()


def test_the_loser_of_a_generation_race_returns_the_winner_key(org_key, monkeypatch):
    # Replay the race deterministically on any database: this caller looked before the winner's
    # row existed, generated its own key, and now finds the one-active constraint in its way.
    real_active_row = orgkey._active_row
    looks: list[OrgKey | None] = []

    def late_look() -> OrgKey | None:
        looks.append(None if not looks else real_active_row())
        return looks[-1]

    monkeypatch.setattr(orgkey, "_active_row", late_look)

    key, created = ensure_org_key()

    assert created is False
    assert key.fingerprint == org_key.fingerprint
    assert len(looks) == 2  # it looked, lost the insert, and looked again
    assert OrgKey.objects.count() == 1


def test_repeated_calls_keep_one_active_key(db):
    fingerprints = {ensure_org_key()[0].fingerprint for _ in range(3)}

    assert len(fingerprints) == 1
    assert OrgKey.objects.filter(active=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_concurrent_first_uses_end_with_one_key():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        # Threads share the in-memory test database through SQLite's shared cache, whose table
        # locks fail at once instead of waiting; the deterministic race test above covers SQLite.
        pytest.skip("needs a file or server database")
    callers = 4

    def first_use() -> tuple[str, bool]:
        key, created = ensure_org_key()
        return key.fingerprint, created

    results = run_at_once(first_use, times=callers)

    assert len({fingerprint for fingerprint, _ in results}) == 1
    assert sum(created for _, created in results) == 1
    assert OrgKey.objects.count() == 1


def test_a_public_key_that_does_not_match_its_row_is_refused(org_key):
    other = generate_org_key("Someone else <else@example.org>")
    OrgKey.objects.filter(active=True).update(armored_public=other.armored_public())

    with pytest.raises(SealError, match="public key does not match"):
        get_org_public_key()


def test_a_sealed_key_that_opens_to_another_key_is_refused(org_key, monkeypatch):
    # The AAD binds the sealed key to its fingerprint, so this cannot happen; if it ever did (a
    # bug in sealing), using the wrong key must fail loudly rather than sign as someone else.
    other = generate_org_key("Someone else <else@example.org>")
    monkeypatch.setattr(orgkey, "load_secret_key", lambda data: other)

    with pytest.raises(SealError, match="does not match"):
        get_org_key()


def test_an_integrity_error_that_is_not_the_race_is_not_swallowed(db, monkeypatch):
    def refuse(**fields):
        raise IntegrityError("something else")

    monkeypatch.setattr(OrgKey.objects, "create", refuse)

    with pytest.raises(IntegrityError, match="something else"):
        ensure_org_key()


def test_a_key_row_describes_itself(org_key):
    assert str(OrgKey.objects.get()) == f"org key {org_key.fingerprint} (active)"


def test_an_opened_key_is_kept_in_memory_but_a_row_altered_later_is_opened_afresh(org_key, monkeypatch):
    assert get_org_key().fingerprint == org_key.fingerprint
    opened = []

    def counting_load(data):
        opened.append(data)
        return org_key

    monkeypatch.setattr(orgkey, "load_secret_key", counting_load)
    assert get_org_key().fingerprint == org_key.fingerprint
    assert opened == []  # answered from memory: no unsealing, no parsing

    row = OrgKey.objects.get()
    sealed = bytearray(row.sealed_secret)
    sealed[-1] ^= 1
    OrgKey.objects.filter(pk=row.pk).update(sealed_secret=bytes(sealed))
    with pytest.raises(SealError):
        get_org_key()
