"""One transition table decides every status change; the service enforces it for staff only."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import TransitionRefused
from bastion.reports.models import Message, TimelineEntry, TimelineKind, Visibility
from bastion.reports.services import change_status, reporter_actor
from bastion.reports.workflow import CLOSED, TRANSITIONS, Status, allowed_next, can_transition, is_closed


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.NEW, Status.TRIAGED),
        (Status.NEW, Status.NEEDS_MORE_INFO),
        (Status.NEW, Status.SPAM),
        (Status.NEEDS_MORE_INFO, Status.NEW),
        (Status.TRIAGED, Status.RESOLVED),
        (Status.RESOLVED, Status.TRIAGED),
        (Status.DUPLICATE, Status.NEW),
        (Status.SPAM, Status.NEW),
    ],
)
def test_the_table_allows_the_moves_of_the_workflow(current, target):
    assert can_transition(current, target)
    assert target in allowed_next(current)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        (Status.NEW, Status.NEW),
        (Status.NEW, Status.RESOLVED),
        (Status.TRIAGED, Status.SPAM),
        (Status.RESOLVED, Status.NEW),
        (Status.SPAM, Status.TRIAGED),
        (Status.INFORMATIVE, Status.RESOLVED),
    ],
)
def test_the_table_refuses_everything_else(current, target):
    assert not can_transition(current, target)


def test_every_state_has_a_row_and_every_closed_state_can_be_reopened():
    assert set(TRANSITIONS) == set(Status)
    for status in CLOSED:
        assert is_closed(status)
        assert {Status.NEW, Status.TRIAGED} & set(allowed_next(status))
    assert not is_closed(Status.NEEDS_MORE_INFO)
    assert allowed_next("spam") == [Status.NEW]


@pytest.mark.django_db
def test_a_triager_moves_a_report_and_the_reporter_sees_it_on_the_timeline(submit, alice):
    report = submit().report

    change = change_status(report=report, to="triaged", actor=alice, note="Reproduced on staging.")

    assert (change.previous, change.current) == (Status.NEW, Status.TRIAGED)
    report.refresh_from_db()
    assert report.status == Status.TRIAGED
    entry = TimelineEntry.objects.get(report=report, kind=TimelineKind.STATUS_CHANGED)
    assert entry.public is True
    assert entry.data == {"from": "new", "to": "triaged"}
    event = AuditEvent.objects.get(event=Event.REPORT_STATUS_CHANGED)
    assert event.actor_id == alice.pk
    assert event.data == {"from": "new", "to": "triaged"}
    assert change.note == Message.objects.get()
    assert change.note.visibility == Visibility.INTERNAL


@pytest.mark.django_db
def test_a_refused_move_says_which_moves_are_allowed_and_changes_nothing(submit, alice):
    report = submit().report

    with pytest.raises(TransitionRefused) as caught:
        change_status(report=report, to=Status.RESOLVED, actor=alice)

    assert "cannot move from new to resolved" in caught.value.messages[0]
    assert "triaged" in caught.value.messages[0]
    report.refresh_from_db()
    assert report.status == Status.NEW
    assert not AuditEvent.objects.filter(event=Event.REPORT_STATUS_CHANGED).exists()


@pytest.mark.django_db
def test_the_move_is_checked_against_the_stored_state_not_a_stale_copy(submit, alice, bob):
    report = submit().report
    stale = type(report).objects.get(pk=report.pk)
    change_status(report=report, to=Status.SPAM, actor=alice)

    with pytest.raises(TransitionRefused):
        change_status(report=stale, to=Status.TRIAGED, actor=bob)  # from spam, not from new


@pytest.mark.django_db
def test_it_rejects_viewers_and_reporters(submit, charlie):
    report = submit().report

    for actor in (charlie, reporter_actor(report), None):
        with pytest.raises(PermissionDenied):
            change_status(report=report, to=Status.TRIAGED, actor=actor)
