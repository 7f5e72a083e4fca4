"""Marking duplicates never links to, nor names, a report under embargo the marker is not granted on.

alice sets the embargoes (so she is granted); bob is her teammate, not granted; dave is an admin,
not granted either. A running embargo hides a report from both, down to its tracking ID.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from bastion.accounts.models import User
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Report
from bastion.reports.services.duplicates import mark_duplicate
from bastion.reports.services.embargo import set_embargo
from bastion.reports.workflow import Status

REASON = "The vendor ships the fix on the 20th"


def received_on(submit, day: int) -> Report:
    """A report received on ``day`` March 2026 (the earlier report is the original)."""
    with time_machine.travel(datetime(2026, 3, day, 9, 0, tzinfo=UTC), tick=False):
        return submit().report


def embargo(report: Report, *, by: User) -> None:
    set_embargo(report=report, ends_at=timezone.now() + timedelta(days=10), reason=REASON, actor=by)


@pytest.fixture
def hidden_root(submit, alice) -> tuple[Report, Report, Report]:
    """``root`` (under embargo, alice granted), ``via`` (a visible duplicate of it), a later ``report``."""
    root, via, report = received_on(submit, 1), received_on(submit, 2), received_on(submit, 3)
    mark_duplicate(report=via, original=root, actor=alice)
    embargo(root, by=alice)
    return root, via, report


@pytest.mark.parametrize("persona", ["bob", "dave"])
def test_it_refuses_a_link_through_a_visible_duplicate_to_a_root_the_marker_cannot_see(
    hidden_root, request, persona
):
    root, via, report = hidden_root
    marker = request.getfixturevalue(persona)

    with pytest.raises(ReportRejected) as refused:
        mark_duplicate(report=report, original=via, actor=marker)

    (message,) = refused.value.message_dict["original"]
    assert refused.value.error_dict["original"][0].code == "hidden"
    assert f"{via.tracking_id} is itself a duplicate, of a report under embargo" in message
    assert root.tracking_id not in message
    report.refresh_from_db()
    assert report.duplicate_of is None
    assert report.status != Status.DUPLICATE
    assert not AuditEvent.objects.filter(event=Event.REPORT_MARKED_DUPLICATE, target_id=str(report.pk))


def test_the_granted_marker_links_through_the_duplicate_to_the_root(hidden_root, alice):
    root, via, report = hidden_root

    done = mark_duplicate(report=report, original=via, actor=alice)

    report.refresh_from_db()
    assert (done.original, done.chosen) == (root, via)
    assert report.duplicate_of == root


def test_it_refuses_an_original_under_embargo_the_marker_is_not_granted_on(submit, alice, bob):
    original, report = received_on(submit, 1), received_on(submit, 2)
    embargo(original, by=alice)

    with pytest.raises(PermissionDenied, match="under embargo and you are not granted on it"):
        mark_duplicate(report=report, original=original, actor=bob)

    report.refresh_from_db()
    assert report.duplicate_of is None


def test_duplicates_of_its_own_under_embargo_are_counted_not_named(submit, alice, bob):
    earliest, report = received_on(submit, 1), received_on(submit, 2)
    seen, hidden = received_on(submit, 3), received_on(submit, 4)
    mark_duplicate(report=seen, original=report, actor=alice)
    mark_duplicate(report=hidden, original=report, actor=alice)
    embargo(hidden, by=alice)

    with pytest.raises(ReportRejected) as refused:
        mark_duplicate(report=report, original=earliest, actor=bob)

    (message,) = refused.value.message_dict["original"]
    assert message.startswith(
        f"{seen.tracking_id}, a report under embargo that you are not granted on are marked as duplicates "
        "of this report"
    )
    assert message.endswith("Only someone granted on a report under embargo can reopen it.")
    assert hidden.tracking_id not in message
