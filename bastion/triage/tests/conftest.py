"""Fixtures for the triage tests: the reports tests' private vault and ``submit``, and a report.

The vault fixture (autouse) and ``submit`` are the reports app's own, reused rather than copied,
so triage tests seal and open content exactly as the reports tests do. The embargo fixtures
(a report submitted at ``T0``, then embargoed until ``END``) serve the embargo panel's tests.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.urls import reverse

from bastion.reports.models import Attachment, Report
from bastion.reports.services.embargo import set_embargo
from bastion.reports.tests.conftest import a_file, private_vault, submit  # noqa: F401  (fixtures)
from bastion.test import T0

END = T0 + timedelta(days=10)
REASON = "Fix ships in 4.3 on 10 June"


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


def report_url(name: str, report: Report, *extra: object) -> str:
    """The triage page ``name`` of ``report`` (``extra``: the URL's further arguments)."""
    return reverse(f"triage:{name}", args=[report.tracking_id, *extra])


@pytest.fixture
def fresh_report(submit, clock) -> Report:  # noqa: F811  (the imported fixture)
    """rita's report without files, submitted at ``T0`` and acknowledged; the outbox emptied."""
    made = submit().report
    mail.outbox.clear()
    return made


@pytest.fixture
def embargoed_report(fresh_report: Report, alice) -> Report:
    """``fresh_report``, embargoed by alice until ``END`` for ``REASON``."""
    set_embargo(report=fresh_report, ends_at=END, reason=REASON, actor=alice)
    return fresh_report
