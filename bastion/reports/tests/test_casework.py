"""Assignment, round-robin on the rota, stale edits, and the reporter-facing message of a move."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import Message, Program, Report, Status, TimelineKind, Visibility
from bastion.reports.services import change_status, open_report
from bastion.reports.services.casework import assign_report, next_on_duty


def test_assigning_records_who_had_it_and_who_has_it_now(submit, alice, bob):
    report = submit().report

    assign_report(report=report, assignee=alice, actor=bob)
    assign_report(report=report, assignee=bob, actor=bob)

    report.refresh_from_db()
    assert report.assignee == bob
    entries = report.timeline.filter(kind=TimelineKind.ASSIGNED)
    assert [e.data for e in entries] == [{"from": None, "to": alice.pk}, {"from": alice.pk, "to": bob.pk}]
    assert not any(e.public for e in entries)
    assert AuditEvent.objects.filter(event=Event.REPORT_ASSIGNED).count() == 2


def test_it_refuses_to_assign_to_a_viewer(submit, alice, charlie):
    report = submit().report

    with pytest.raises(ReportRejected, match="active triagers and admins"):
        assign_report(report=report, assignee=charlie, actor=alice)


def test_it_rejects_viewers_assigning(submit, alice, charlie):
    report = submit().report

    with pytest.raises(PermissionDenied):
        assign_report(report=report, assignee=alice, actor=charlie)


def test_a_stale_edit_is_refused_and_nothing_is_overwritten(submit, alice, bob):
    report = submit().report
    seen_by_bob = report.version
    assign_report(report=report, assignee=alice, actor=alice, expected_version=seen_by_bob)

    with pytest.raises(StaleEdit, match="Someone else changed this report"):
        assign_report(report=report, assignee=bob, actor=bob, expected_version=seen_by_bob)

    assert Report.objects.get(pk=report.pk).assignee == alice


def test_every_edit_bumps_the_version(submit, alice):
    report = submit().report

    assign_report(report=report, assignee=alice, actor=alice, expected_version=1)
    change_status(report=report, to=Status.TRIAGED, actor=alice, expected_version=2)

    assert Report.objects.get(pk=report.pk).version == 3 == report.version


def test_new_reports_go_round_robin_to_the_triagers_on_duty(submit, alice, bob, charlie):
    Program.objects.filter(is_default=True).update(auto_assign=True)
    for member in (alice, bob, charlie):  # charlie is a viewer: never picked, even on duty
        member.on_duty = True
        member.save()

    owners = [submit().report.assignee for _ in range(4)]

    assert owners == [alice, bob, alice, bob]


def test_nobody_is_picked_when_nobody_is_on_duty_or_the_program_does_not_ask(submit, alice):
    alice.on_duty = True
    alice.save()
    assert submit().report.assignee is None  # the default program does not auto-assign

    Program.objects.filter(is_default=True).update(auto_assign=True)
    alice.on_duty = False
    alice.save()
    assert next_on_duty() is None
    assert submit().report.assignee is None


def test_a_move_sends_the_reporter_facing_message_as_a_public_reply(submit, alice):
    report = submit().report

    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice, reporter_message="Which version?")

    message = Message.objects.get(report=report)
    assert message.visibility == Visibility.PUBLIC
    assert open_report(report=report, actor=alice).messages[0].body == "Which version?"
    report.refresh_from_db()
    assert report.first_response_at is not None  # the public reply answered the reporter


def test_moves_set_the_dates_the_metrics_read_and_a_reopen_clears_the_close(submit, alice):
    report = submit().report

    change_status(report=report, to=Status.TRIAGED, actor=alice)
    change_status(report=report, to=Status.RESOLVED, actor=alice)
    report.refresh_from_db()
    triaged_at, closed_at = report.triaged_at, report.closed_at
    assert triaged_at is not None
    assert closed_at is not None

    change_status(report=report, to=Status.RETESTING, actor=alice)
    report.refresh_from_db()
    assert report.closed_at is None
    assert report.triaged_at == triaged_at  # the first triage is what time-to-triage measures


def test_assigning_to_whoever_has_it_changes_nothing_and_leaves_open_forms_current(submit, alice, bob):
    report = submit().report
    assign_report(report=report, assignee=bob, actor=bob)
    seen_by_alice = Report.objects.get(pk=report.pk).version

    assign_report(report=report, assignee=bob, actor=bob)

    assert Report.objects.get(pk=report.pk).version == seen_by_alice
    change_status(report=report, to=Status.TRIAGED, actor=alice, expected_version=seen_by_alice)
