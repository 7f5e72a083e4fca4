"""The SQLite backend queues write transactions on a lock file beside the database."""

import fcntl
import os
import threading
import time

import pytest
from django.contrib.auth.models import Group
from django.db import DatabaseError, connection, transaction

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "sqlite", reason="the writer queue is SQLite's"),
]


def lock_is_free() -> bool:
    """Whether another open file could take the writers' lock right now."""
    fd = os.open(f"{connection.settings_dict['NAME']}-writers", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # closing drops a lock taken here
    return True


def test_a_write_transaction_holds_the_lock_until_it_commits():
    with transaction.atomic():
        Group.objects.create(name="a@example.org")
        assert not lock_is_free()
    assert lock_is_free()
    assert Group.objects.filter(name="a@example.org").exists()


def write_then_fail() -> None:
    with transaction.atomic():
        Group.objects.create(name="b@example.org")
        raise RuntimeError


def close_mid_transaction() -> None:
    with transaction.atomic():
        assert not lock_is_free()
        connection.close()
        Group.objects.count()  # Django refuses to go on in a transaction whose connection closed


def test_a_rollback_releases_it():
    with pytest.raises(RuntimeError):
        write_then_fail()
    assert lock_is_free()
    assert not Group.objects.exists()


def test_nested_blocks_take_it_once_and_release_it_at_the_outer_end():
    with transaction.atomic():
        with transaction.atomic():
            assert not lock_is_free()
        assert not lock_is_free()
    assert lock_is_free()


def test_closing_the_connection_mid_transaction_releases_it():
    with pytest.raises(DatabaseError):
        close_mid_transaction()
    assert lock_is_free()


def test_reads_outside_a_transaction_take_nothing():
    assert Group.objects.count() == 0
    assert lock_is_free()


def test_a_second_writer_queues_behind_the_first_instead_of_failing():
    first_wrote = threading.Event()
    order: list[str] = []

    def first() -> None:
        try:
            with transaction.atomic():
                Group.objects.create(name="first@example.org")
                first_wrote.set()
                time.sleep(0.3)  # the second writer is waiting on the lock meanwhile
                order.append("first commits")
        finally:
            connection.close()

    def second() -> None:
        first_wrote.wait(5)
        try:
            with transaction.atomic():
                order.append("second begins")
                Group.objects.create(name="second@example.org")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert order == ["first commits", "second begins"]
    assert Group.objects.count() == 2
