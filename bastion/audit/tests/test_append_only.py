"""The table is append-only: the ORM and the database both refuse changes and removals."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from bastion.audit import triggers
from bastion.audit.events import Event
from bastion.audit.models import AppendOnlyError, AuditEvent
from bastion.audit.services import record, verify_chain
from bastion.audit.testing import triggers_suspended

pytestmark = pytest.mark.django_db


def test_the_migrations_installed_the_triggers():
    assert triggers.installed(connection)


def test_it_refuses_saving_a_loaded_event(chain):
    row = AuditEvent.objects.get(pk=chain[0].pk)
    row.actor_label = "someone else"

    with pytest.raises(AppendOnlyError):
        row.save()


def test_it_refuses_deleting_an_event_through_the_model(chain):
    with pytest.raises(AppendOnlyError):
        chain[0].delete()


def test_it_refuses_queryset_updates(chain):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.filter(pk=chain[0].pk).update(actor_label="someone else")

    assert AuditEvent.objects.get(pk=chain[0].pk).actor_label == "system"


def test_it_refuses_queryset_deletes(chain):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()

    assert AuditEvent.objects.count() == 3


def test_it_refuses_raw_sql_updates(chain):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("UPDATE audit_auditevent SET actor_label = %s WHERE id = %s", ["forged", chain[1].pk])

    assert AuditEvent.objects.get(pk=chain[1].pk).actor_label == "system"


def test_it_refuses_raw_sql_deletes(chain):
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("DELETE FROM audit_auditevent")

    assert AuditEvent.objects.count() == 3


def test_it_refuses_truncate_on_postgresql(chain):
    if connection.vendor != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL's; SQLite has only DELETE")
    with (
        pytest.raises(IntegrityError, match="append-only"),
        transaction.atomic(),
        connection.cursor() as cursor,
    ):
        cursor.execute("TRUNCATE audit_auditevent")

    assert AuditEvent.objects.count() == 3


def test_suspending_the_triggers_restores_them_even_after_an_error(chain):
    seen_inside = []

    def fail_while_suspended() -> None:
        with triggers_suspended():
            seen_inside.append(triggers.installed(connection))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        fail_while_suspended()

    assert seen_inside == [False]
    assert triggers.installed(connection)


def test_suspending_leaves_a_database_without_triggers_without_them(chain):
    triggers.remove(connection)

    with triggers_suspended():
        pass

    assert not triggers.installed(connection)
    triggers.install(connection)


def test_installing_twice_leaves_one_working_set(chain):
    triggers.install(connection)
    triggers.install(connection)

    assert triggers.installed(connection)
    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_a_flush_is_refused_unless_the_triggers_are_suspended():
    record(event=Event.AUDIT_VERIFIED, actor=None)

    with pytest.raises(CommandError):
        call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 1

    with triggers_suspended():
        call_command("flush", interactive=False, verbosity=0)
    assert AuditEvent.objects.count() == 0
    assert triggers.installed(connection)
    assert verify_chain().ok
