"""Fixtures for the triage tests: the reports tests' private vault and ``submit``, and a report.

The vault fixture (autouse) and ``submit`` are the reports app's own, reused rather than copied,
so triage tests seal and open content exactly as the reports tests do.
"""

from __future__ import annotations

import pytest
from django.core import mail

from bastion.reports.models import Attachment, Report
from bastion.reports.tests.conftest import a_file, private_vault, submit  # noqa: F401  (fixtures)


@pytest.fixture
def report(submit) -> Report:  # noqa: F811  (the imported fixture)
    """rita's report, with one file, acknowledged; the outbox is emptied afterwards."""
    created = submit(attachments=[a_file()]).report
    mail.outbox.clear()
    return created


@pytest.fixture
def attachment(report: Report) -> Attachment:
    """The file sent with ``report``."""
    return report.attachments.get()
