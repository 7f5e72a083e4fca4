"""Fixtures for the audit tests. Personas (alice, charlie, dave) and ``client_as`` come from the
root conftest, which also lets transactional tests flush the append-only table."""

from __future__ import annotations

import pytest

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import record


@pytest.fixture
def chain(db) -> list[AuditEvent]:
    """Three events in a row, with distinct shapes (system, anonymous-with-login, data)."""
    return [
        record(event=Event.AUDIT_VERIFIED, actor=None, data={"checked": 0}),
        record(event=Event.LOGIN_FAILED, actor=None, data={"reason": "bad password"}, ip="192.0.2.7"),
        record(event=Event.LOGOUT, actor=None, data={"nested": {"b": [1, "two", None, True]}}),
    ]
