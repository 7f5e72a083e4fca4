"""Which clocks a report gets when its program leaves a target out, on arrival and on a reopen alike.

A report's first clocks are built before it is stored, its later ones started on the stored row;
both ask the program for the target the same way, so a target the program leaves out starts no
clock either way.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from bastion.reports.models import Clock, ClockKind, Program, Report
from bastion.reports.services import change_status
from bastion.reports.workflow import Status
from bastion.test import T0

HOUR = timedelta(hours=1)


@pytest.fixture
def no_triage_target(db) -> Program:
    """The default program, asking for a first response in 10 hours and setting no triage target."""
    program = Program.objects.default()
    program.targets = {"first_response": 10, "triage": None}
    program.save()
    return program


def running(report: Report) -> dict[str, datetime | None]:
    """Each running clock's kind and due time."""
    return dict(Clock.objects.running().filter(report=report).values_list("kind", "due_at"))


def test_a_report_arrives_with_only_the_clocks_its_program_sets_a_target_for(submit, clock, no_triage_target):
    report = submit().report

    assert running(report) == {ClockKind.FIRST_RESPONSE: T0 + 10 * HOUR}
    report.refresh_from_db()
    assert report.next_due_at == T0 + 10 * HOUR


def test_a_reopened_report_starts_only_the_clocks_its_program_sets_a_target_for(
    submit, clock, no_triage_target, alice
):
    report = submit().report
    change_status(report=report, to=Status.SPAM, actor=alice)
    clock.move_to(T0 + 5 * HOUR)

    change_status(report=report, to=Status.NEW, actor=alice)

    assert running(report) == {ClockKind.FIRST_RESPONSE: T0 + 15 * HOUR}
    assert not Clock.objects.filter(report=report, kind=ClockKind.TRIAGE).exists()
