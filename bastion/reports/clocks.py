"""Response clocks: the targets a report is measured against, counted as its program counts time.

Every change that matters to a clock comes through here from the reports services, inside their
transaction: a report arrives, staff reply in public, the reporter writes again, the status or the
severity changes. The scheduler task (``reports.tasks.check_clocks``) does the rest: it warns the
assignee at 50 % and 90 % of a target, escalates to their on-call backup before the breach, and
records a breach on the report.

OWNER: the clocks helper fills in the bodies; the signatures are the contract the services use.
"""

from __future__ import annotations

from datetime import datetime

from bastion.reports.models import Report
from bastion.reports.workflow import Status


def start_clocks(report: Report, *, at: datetime) -> None:
    """A report has arrived: start its first-response clock (and its triage clock)."""


def on_status_change(report: Report, *, previous: Status, current: Status, at: datetime) -> None:
    """Pause, resume, meet or stop clocks as ``report`` moves from ``previous`` to ``current``."""


def on_staff_reply(report: Report, *, at: datetime) -> None:
    """A reporter-visible staff reply: the first-response clock is met."""


def on_reporter_message(report: Report, *, at: datetime) -> None:
    """The reporter wrote again: first response is owed again (a fresh clock)."""


def on_severity_change(report: Report, *, at: datetime) -> None:
    """The severity changed: the resolution target follows it."""


def on_bounty_decided(report: Report, *, at: datetime) -> None:
    """The bounty was decided (eligible with an award proposed, or not eligible)."""
