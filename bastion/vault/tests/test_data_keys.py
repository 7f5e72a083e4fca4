import pytest
from django.db import IntegrityError

from bastion.vault.errors import KeyDestroyed, SealError
from bastion.vault.models import DataKey
from bastion.vault.services import create_data_key
from bastion.vault.shredding import shred_ledger

pytestmark = pytest.mark.django_db


def test_a_new_data_key_is_stored_only_wrapped():
    row, plain = create_data_key(subject="report:0b6f7d1e")

    stored = DataKey.objects.get(pk=row.pk)
    assert len(plain) == 32
    assert plain not in bytes(stored.wrapped)
    assert stored.subject == "report:0b6f7d1e"
    assert stored.master_version == 1
    assert stored.destroyed_at is None
    assert stored.created_at is not None


def test_a_stored_data_key_unwraps_to_the_key_that_was_handed_out():
    row, plain = create_data_key(subject="report:a")

    # Read back from the database: a memoryview on PostgreSQL, bytes on SQLite.
    assert DataKey.objects.get(pk=row.pk).unwrap() == plain


def test_every_subject_gets_its_own_key():
    _, first = create_data_key(subject="report:a")
    _, second = create_data_key(subject="report:b")

    assert first != second


def test_a_subject_cannot_get_a_second_key():
    create_data_key(subject="report:a")

    with pytest.raises(IntegrityError):
        create_data_key(subject="report:a")


@pytest.mark.parametrize("subject", ["", "x" * 201])
def test_a_subject_must_be_named_and_short(subject):
    with pytest.raises(ValueError, match="subject"):
        create_data_key(subject=subject)


def test_new_keys_are_wrapped_under_the_current_master_version(provider):
    old_row, old_plain = create_data_key(subject="report:old")
    provider.add_version()

    new_row, new_plain = create_data_key(subject="report:new")

    assert new_row.master_version == 2
    assert DataKey.objects.get(pk=new_row.pk).unwrap() == new_plain
    assert DataKey.objects.get(pk=old_row.pk).unwrap() == old_plain


def test_a_wrapped_key_moved_to_another_subject_does_not_open():
    victim, _ = create_data_key(subject="report:victim")
    attacker, _ = create_data_key(subject="report:attacker")

    DataKey.objects.filter(pk=attacker.pk).update(wrapped=bytes(victim.wrapped))

    with pytest.raises(SealError):
        DataKey.objects.get(pk=attacker.pk).unwrap()


def test_a_relabelled_master_version_does_not_open(provider):
    row, _ = create_data_key(subject="report:a")
    provider.add_version()

    DataKey.objects.filter(pk=row.pk).update(master_version=2)

    with pytest.raises(SealError):
        DataKey.objects.get(pk=row.pk).unwrap()


def test_a_destroyed_key_refuses_to_unwrap():
    row, _ = create_data_key(subject="report:shredded")

    row.shred()

    stored = DataKey.objects.get(pk=row.pk)
    assert stored.is_destroyed
    assert bytes(stored.wrapped) == b""
    with pytest.raises(KeyDestroyed):
        stored.unwrap()
    with pytest.raises(KeyDestroyed):
        row.unwrap()


def test_shredding_twice_keeps_the_first_destruction_time():
    row, _ = create_data_key(subject="report:a")
    row.shred()
    first = row.destroyed_at

    DataKey.objects.get(pk=row.pk).shred()

    assert DataKey.objects.get(pk=row.pk).destroyed_at == first


def test_shredding_writes_the_ledger_first_so_a_restore_cannot_bring_the_key_back():
    row, _ = create_data_key(subject="report:a")
    row.shred(why="mail_released")
    row.shred()

    assert [(e.subject, e.why) for e in shred_ledger().entries().values()] == [("report:a", "mail_released")]
    DataKey.objects.filter(pk=row.pk).update(wrapped=b"restored", destroyed_at=None)  # an old backup
    assert shred_ledger().apply() == ["report:a"]
    assert DataKey.objects.get(pk=row.pk).is_destroyed


def test_a_data_key_describes_itself_without_key_material():
    row, _ = create_data_key(subject="report:a")

    assert str(row) == "data key for report:a (master v1)"
    row.shred()
    assert str(row) == "data key for report:a (destroyed)"
