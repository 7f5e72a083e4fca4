"""Bulk actions: each report goes through the single-report service, and a refusal stays its own."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Label, Message, Report, TimelineKind, Visibility
from bastion.reports.services import change_status
from bastion.reports.services.bulk import (
    MAX_BULK,
    Result,
    assign_reports,
    close_reports_as_spam,
    label_reports,
)
from bastion.reports.services.casework import assign_report
from bastion.reports.workflow import Status


@pytest.fixture
def three(submit) -> list[Report]:
    return [submit().report for _ in range(3)]


def test_it_assigns_each_report_on_its_own_with_its_own_audit_row(three, alice, bob):
    outcomes = assign_reports(reports=three, assignee=bob, actor=alice)

    assert [o.result for o in outcomes] == [Result.DONE] * 3
    assert Report.objects.filter(assignee=bob).count() == 3
    assert AuditEvent.objects.filter(event=Event.REPORT_ASSIGNED).count() == 3
    for report in three:
        assert report.timeline.filter(kind=TimelineKind.ASSIGNED, public=False).exists()


def test_a_report_changed_since_the_list_was_drawn_is_refused_and_the_others_are_done(three, alice, bob):
    seen = {report.pk: report.version for report in three}
    assign_report(report=three[1], assignee=alice, actor=alice)  # someone got there first

    outcomes = assign_reports(reports=three, assignee=bob, actor=bob, expected_versions=seen)

    assert [o.result for o in outcomes] == [Result.DONE, Result.REFUSED, Result.DONE]
    assert "Someone else changed this report" in outcomes[1].reason
    assert Report.objects.get(pk=three[1].pk).assignee == alice


def test_reports_already_with_the_assignee_are_left_alone(three, alice, bob):
    assign_report(report=three[0], assignee=bob, actor=alice)
    version = Report.objects.get(pk=three[0].pk).version

    outcomes = assign_reports(reports=three, assignee=bob, actor=alice)

    assert [o.result for o in outcomes] == [Result.UNCHANGED, Result.DONE, Result.DONE]
    assert Report.objects.get(pk=three[0].pk).version == version


def test_it_refuses_to_assign_to_a_viewer_before_touching_anything(three, alice, charlie):
    with pytest.raises(ReportRejected):
        assign_reports(reports=three, assignee=charlie, actor=alice)

    assert not Report.objects.filter(assignee__isnull=False).exists()


def test_it_adds_a_label_keeping_the_labels_each_report_has(three, alice):
    three[0].labels.add(Label.objects.create(name="payments"))

    outcomes = label_reports(reports=three, label=" Needs-PoC ", actor=alice)

    assert [o.result for o in outcomes] == [Result.DONE] * 3
    assert sorted(three[0].labels.values_list("name", flat=True)) == ["needs-poc", "payments"]
    assert list(three[2].labels.values_list("name", flat=True)) == ["needs-poc"]
    events = AuditEvent.objects.filter(event=Event.REPORT_CLASSIFIED, target_id=str(three[0].pk))
    assert events.get().data == {"fields": ["labels"], "labels": ["needs-poc", "payments"]}
    assert three[0].timeline.filter(kind=TimelineKind.CLASSIFIED, public=False).exists()


def test_a_label_already_there_changes_nothing_not_even_the_version(three, alice):
    label_reports(reports=three[:1], label="auth", actor=alice)
    version = Report.objects.get(pk=three[0].pk).version

    outcomes = label_reports(reports=three[:1], label="auth", actor=alice)

    assert outcomes[0].result == Result.UNCHANGED
    assert Report.objects.get(pk=three[0].pk).version == version
    assert three[0].version == version
    assert AuditEvent.objects.filter(event=Event.REPORT_CLASSIFIED).count() == 1


def test_a_label_that_cannot_be_one_is_refused_with_a_reason(three, alice):
    with pytest.raises(ReportRejected) as refused:
        label_reports(reports=three, label="no spaces allowed", actor=alice)

    assert "cannot be a label" in " ".join(refused.value.messages)
    assert not Label.objects.exists()


def test_closing_as_spam_tells_each_reporter_and_refuses_reports_already_triaged(three, alice):
    change_status(report=three[1], to=Status.TRIAGED, actor=alice)

    outcomes = close_reports_as_spam(
        reports=three,
        actor=alice,
        reporter_message=lambda report: f"{report.tracking_id} was closed as spam.",
    )

    assert [o.result for o in outcomes] == [Result.DONE, Result.REFUSED, Result.DONE]
    assert "cannot move from triaged to spam" in outcomes[1].reason
    assert Report.objects.get(pk=three[1].pk).status == Status.TRIAGED
    assert Report.objects.filter(status=Status.SPAM).count() == 2
    replies = Message.objects.filter(report=three[0], visibility=Visibility.PUBLIC, author=alice)
    assert replies.count() == 1
    assert AuditEvent.objects.filter(event=Event.REPORT_STATUS_CHANGED).count() == 3  # triage + 2 spam


def test_reports_already_spam_are_left_alone(three, alice):
    close_reports_as_spam(reports=three[:1], actor=alice)

    outcomes = close_reports_as_spam(reports=three[:1], actor=alice)

    assert outcomes[0].result == Result.UNCHANGED


@pytest.mark.parametrize("action", [assign_reports, label_reports, close_reports_as_spam])
def test_it_rejects_viewers_and_anonymous_visitors(three, charlie, action):
    arguments: dict[str, object] = {}
    if action is assign_reports:
        arguments["assignee"] = None
    elif action is label_reports:
        arguments["label"] = "x"
    for actor in (charlie, AnonymousUser()):
        with pytest.raises(PermissionDenied):
            action(reports=three, actor=actor, **arguments)

    assert not AuditEvent.objects.filter(event=Event.REPORT_ASSIGNED).exists()


def test_it_refuses_more_reports_than_one_request_may_change(three, alice):
    with pytest.raises(ReportRejected, match=f"at most {MAX_BULK}"):
        assign_reports(reports=three * (MAX_BULK // 3 + 1), assignee=alice, actor=alice)
