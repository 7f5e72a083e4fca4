"""Test-harness helpers for living with the append-only triggers.

Transactional tests (``@pytest.mark.django_db(transaction=True)``, ``live_server``, Django's
``TransactionTestCase``) empty every table after each test with Django's ``flush`` command:
``DELETE FROM`` on SQLite, ``TRUNCATE`` on PostgreSQL. The triggers refuse both, by design. So
the flush, and only the flush, runs with the triggers lifted:

* :func:`triggers_suspended` drops the triggers on the given databases and puts them back after,
  even if the body fails; databases that didn't have them (``--no-migrations``) are left alone.
* :func:`flush_allowed` patches ``TransactionTestCase._fixture_teardown`` (the one method that
  runs that flush, for pytest-django and plain Django tests alike) to run inside it. Use it from
  a session-scoped autouse fixture in the root ``conftest.py``.

Never import this module outside tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections
from django.test import TransactionTestCase

from bastion.audit import triggers


@contextmanager
def triggers_suspended(aliases: Iterable[str] = (DEFAULT_DB_ALIAS,)) -> Iterator[None]:
    """Lift the append-only triggers for the duration of the block, then restore them."""
    lifted = []
    try:
        for alias in aliases:
            connection = connections[alias]
            if triggers.TABLE in connection.introspection.table_names() and triggers.installed(connection):
                triggers.remove(connection)
                lifted.append(connection)
        yield
    finally:
        for connection in lifted:
            triggers.install(connection)


_PATCH_MARK = "_bastion_audit_flush_allowed"
# Private Django API, reached by name: this is the one method that flushes after a transactional
# test (django/test/testcases.py), and the stubs don't declare it.
_TEARDOWN = "_fixture_teardown"


@contextmanager
def flush_allowed() -> Iterator[None]:
    """Let ``TransactionTestCase`` flush the audit table between tests (idempotent, reversible)."""
    original: Callable[[TransactionTestCase], None] = getattr(TransactionTestCase, _TEARDOWN)
    if getattr(original, _PATCH_MARK, False):
        # Already wired (e.g. by the root conftest and an app conftest both): wrap only once.
        yield
        return

    def _fixture_teardown(self: TransactionTestCase) -> None:
        databases = self._databases_names(include_mirrors=False)  # type: ignore[attr-defined]
        with triggers_suspended(databases):
            original(self)

    setattr(_fixture_teardown, _PATCH_MARK, True)
    setattr(TransactionTestCase, _TEARDOWN, _fixture_teardown)
    try:
        yield
    finally:
        setattr(TransactionTestCase, _TEARDOWN, original)
