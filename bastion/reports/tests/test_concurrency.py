"""The same submission sent several times at once (a client retrying on a timeout) is one report."""

from __future__ import annotations

import pytest
from django.db import connection

from bastion.reports.models import Report
from bastion.reports.services import SubmitResult, submit_report
from bastion.reports.tests.conftest import a_submission
from bastion.test import run_at_once
from bastion.vault.models import DataKey
from bastion.vault.orgkey import get_org_key

SENDERS = 4


@pytest.mark.django_db(transaction=True)
def test_simultaneous_retries_with_one_key_make_one_report():
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        # Threads share the in-memory database through SQLite's shared cache, whose table locks
        # fail at once instead of waiting; on a file database IMMEDIATE makes writers queue.
        pytest.skip("needs a file or server database")
    get_org_key()  # made once up front: the race under test is the report's, not the key's

    def send() -> SubmitResult:
        return submit_report(
            submission=a_submission(email=""),
            channel="api",
            policy_version=1,
            actor=None,
            idempotency_key="timeout-retry",
        )

    results = run_at_once(send, times=SENDERS)

    assert sorted(r.created for r in results) == [False] * (SENDERS - 1) + [True]
    assert len({r.report.pk for r in results}) == 1
    assert Report.objects.count() == DataKey.objects.count() == 1
