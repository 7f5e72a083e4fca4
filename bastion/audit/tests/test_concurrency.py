"""Concurrent writers: each event still chains onto exactly one predecessor."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection, connections

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import record, verify_chain
from bastion.test import run_at_once

WRITERS = 4
EVENTS_EACH = 25


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_never_fork_the_chain():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        # Threads share one in-memory database through SQLite's shared cache, whose table locks
        # fail at once instead of waiting; on a real file IMMEDIATE makes writers queue.
        pytest.skip("needs a file or server database")

    def write() -> None:
        for number in range(EVENTS_EACH):
            record(event=Event.LOGIN_FAILED, actor=None, data={"n": number})

    run_at_once(write, times=WRITERS)

    assert AuditEvent.objects.count() == WRITERS * EVENTS_EACH
    result = verify_chain()
    assert (result.ok, result.checked) == (True, WRITERS * EVENTS_EACH)


@pytest.mark.django_db
def test_it_refuses_to_write_on_sqlite_without_an_immediate_write_lock(monkeypatch):
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL serialises writers with an advisory lock instead")
    # The wrapper itself, not the django.db.connection proxy: undoing a patch through the proxy
    # deletes the attribute instead of restoring it.
    monkeypatch.setattr(connections["default"], "transaction_mode", "DEFERRED")

    with pytest.raises(ImproperlyConfigured, match="IMMEDIATE"):
        record(event=Event.LOGOUT, actor=None)
