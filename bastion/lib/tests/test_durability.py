"""``lazy_commit``: one transaction whose commit need not wait for the disk, and only that one."""

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction

from bastion.lib.durability import lazy_commit

pytestmark = pytest.mark.django_db(transaction=True)


def level() -> str:
    """The setting that decides whether a commit waits for the disk, as the database reports it."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("PRAGMA synchronous")
            return {0: "off", 1: "normal", 2: "full", 3: "extra"}[cursor.fetchone()[0]]
        cursor.execute("SHOW synchronous_commit")
        return str(cursor.fetchone()[0])


def test_the_transaction_commits_lazily_and_the_next_one_is_durable_again():
    durable = level()
    with lazy_commit():
        Group.objects.create(name="counted")
        assert level() == ("normal" if connection.vendor == "sqlite" else "off")
    assert level() == durable
    assert Group.objects.filter(name="counted").exists()


def test_a_failure_rolls_back_and_restores_the_level():
    durable = level()

    def fail() -> None:
        with lazy_commit():
            Group.objects.create(name="lost")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail()
    assert level() == durable
    assert not Group.objects.filter(name="lost").exists()


def test_inside_a_callers_transaction_the_callers_commit_decides():
    durable = level()
    with transaction.atomic(), lazy_commit():
        Group.objects.create(name="inner")
        assert level() == durable
    assert Group.objects.filter(name="inner").exists()
