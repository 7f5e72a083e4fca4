"""Following an upstream after the hand-off: status, deadline, IDs, stale edits, and reminders."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure.handoff import HandoffRefused, StaleHandoff
from bastion.disclosure.handoff_tasks import remind_upstream_deadlines
from bastion.disclosure.models import Handoff, HandoffStatus
from bastion.disclosure.services.handoff import update_handoff
from bastion.reports.models import AuthorKind, TimelineKind, Visibility
from bastion.reports.services.casework import assign_report
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)
from bastion.test import mail_text

pytestmark = pytest.mark.django_db


def update(handoff: Handoff, actor: Any, **changes: Any) -> Handoff:
    """``update_handoff`` with the hand-off's current values, ``changes`` applied."""
    values: dict[str, Any] = {
        "status": handoff.status,
        "deadline": handoff.deadline,
        "ghsa_id": handoff.ghsa_id,
        "cve_id": handoff.cve_id,
        "tracking_url": handoff.tracking_url,
        "seen_version": handoff.version,
        "reason": "",
        **changes,
    }
    return update_handoff(handoff=handoff, actor=actor, **values)


def test_the_status_moves_forward_skipping_steps_and_the_reporter_sees_it(handoff, alice):
    updated = update(handoff, alice, status=HandoffStatus.FIXED)

    assert updated.status == HandoffStatus.FIXED
    assert updated.version == handoff.version + 1
    entry = handoff.report.timeline.get(kind=TimelineKind.UPSTREAM_UPDATED)
    assert entry.public
    assert entry.data == {"project": "Ruby on Rails", "status": "fixed", "status_label": "Fixed"}
    event = AuditEvent.objects.get(event=Event.HANDOFF_UPDATED)
    assert event.data["from_status"] == "notified"
    assert event.data["to_status"] == "fixed"


def test_moving_back_needs_a_reason_which_is_kept_as_an_internal_note(handoff, alice):
    fixed = update(handoff, alice, status=HandoffStatus.FIXED)

    with pytest.raises(HandoffRefused) as refused:
        update(fixed, alice, status=HandoffStatus.FIX_IN_PROGRESS)
    assert refused.value.field == "reason"
    assert Handoff.objects.get(pk=handoff.pk).status == HandoffStatus.FIXED

    back = update(
        fixed, alice, status=HandoffStatus.FIX_IN_PROGRESS, reason="Their patch missed the API path."
    )

    assert back.status == HandoffStatus.FIX_IN_PROGRESS
    note = handoff.report.messages.get()
    assert note.visibility == Visibility.INTERNAL
    assert note.author_kind == AuthorKind.STAFF
    assert "Their patch missed the API path." not in str(AuditEvent.objects.values_list("data", flat=True))


@pytest.mark.parametrize(
    ("field", "given", "stored"),
    [
        ("ghsa_id", "ghsa-j8r2-6x86-q33q", "GHSA-j8r2-6x86-q33q"),
        ("cve_id", " cve-2026-12345 ", "CVE-2026-12345"),
        ("tracking_url", "https://github.com/rails/rails/security/advisories/GHSA-j8r2-6x86-q33q", None),
    ],
)
def test_ids_are_stored_in_their_canonical_form(handoff, alice, field, given, stored):
    updated = update(handoff, alice, **{field: given})

    assert getattr(updated, field) == (stored or given)


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("ghsa_id", "GHSA-1234-5678-9abc"),  # 1, a and b are not in GitHub's alphabet
        ("ghsa_id", "GHSA-j8r2-6x86"),
        ("cve_id", "CVE-26-1"),
        ("cve_id", "2026-12345"),
        ("tracking_url", "javascript:alert(1)"),
        ("tracking_url", "github.com/rails"),
    ],
)
def test_malformed_ids_are_refused_with_the_format_to_use(handoff, alice, field, given):
    with pytest.raises(HandoffRefused) as refused:
        update(handoff, alice, **{field: given})

    assert refused.value.field == field
    assert Handoff.objects.get(pk=handoff.pk).version == handoff.version


def test_two_staff_updating_one_hand_off_is_a_refused_stale_edit(handoff, alice, bob):
    update(handoff, bob, status=HandoffStatus.ACKNOWLEDGED)

    with pytest.raises(StaleHandoff):
        update(handoff, alice, status=HandoffStatus.FIXED)  # alice's form still has the old version

    assert Handoff.objects.get(pk=handoff.pk).status == HandoffStatus.ACKNOWLEDGED


def test_saving_what_is_already_there_records_nothing(handoff, alice):
    update(handoff, alice)

    assert not AuditEvent.objects.filter(event=Event.HANDOFF_UPDATED).exists()
    assert Handoff.objects.get(pk=handoff.pk).version == handoff.version


def test_it_rejects_a_viewer_updating_a_hand_off(handoff, charlie):
    with pytest.raises(PermissionDenied):
        update(handoff, charlie, status=HandoffStatus.FIXED)


# --- Reminders ------------------------------------------------------------------------------------


def tick(at, capture) -> int:
    with time_machine.travel(at), capture(execute=True):
        return remind_upstream_deadlines.call()


def test_reminders_go_once_per_step_to_whoever_handed_it_over_and_the_assignee(
    handoff, alice, bob, settings, django_capture_on_commit_callbacks
):
    settings.UPSTREAM_REMINDER_HOURS = [168, 24]
    assign_report(report=handoff.report, assignee=bob, actor=alice)
    deadline = handoff.deadline
    capture = django_capture_on_commit_callbacks

    assert tick(deadline - timedelta(days=8), capture) == 0
    assert mail.outbox == []

    assert tick(deadline - timedelta(days=6), capture) == 1
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, bob.email]
    assert "deadline in 168 h" in mail.outbox[0].subject
    assert handoff.report.tracking_id in mail_text(mail.outbox[0])
    assert tick(deadline - timedelta(days=5), capture) == 0  # the same step, not again
    assert len(mail.outbox) == 2

    assert tick(deadline - timedelta(hours=20), capture) == 1
    assert len(mail.outbox) == 4
    assert "deadline in 24 h" in mail.outbox[-1].subject

    assert tick(deadline + timedelta(minutes=5), capture) == 1
    assert "deadline passed" in mail.outbox[-1].subject
    assert tick(deadline + timedelta(days=1), capture) == 0  # overdue is said once
    assert len(mail.outbox) == 6
    assert Handoff.objects.get(pk=handoff.pk).reminders_sent == ["168", "24", "overdue"]
    assert AuditEvent.objects.filter(event=Event.HANDOFF_REMINDER_SENT).count() == 3


def test_steps_passed_together_send_one_reminder(handoff, settings, django_capture_on_commit_callbacks):
    settings.UPSTREAM_REMINDER_HOURS = [168, 24]

    assert tick(handoff.deadline - timedelta(hours=10), django_capture_on_commit_callbacks) == 1

    assert len(mail.outbox) == 1  # alice only: nobody is assigned
    assert "deadline in 24 h" in mail.outbox[0].subject
    assert Handoff.objects.get(pk=handoff.pk).reminders_sent == ["168", "24"]


def test_a_fixed_upstream_is_not_chased(handoff, alice, settings, django_capture_on_commit_callbacks):
    settings.UPSTREAM_REMINDER_HOURS = [168, 24]
    update(handoff, alice, status=HandoffStatus.FIXED)

    assert tick(handoff.deadline + timedelta(hours=1), django_capture_on_commit_callbacks) == 0
    assert mail.outbox == []


def test_a_moved_deadline_earns_its_reminders_anew(
    handoff, alice, settings, django_capture_on_commit_callbacks
):
    settings.UPSTREAM_REMINDER_HOURS = [24]
    assert tick(handoff.deadline - timedelta(hours=2), django_capture_on_commit_callbacks) == 1
    later = handoff.deadline + timedelta(days=7)

    with time_machine.travel(handoff.deadline - timedelta(hours=1)):
        moved = update(Handoff.objects.get(pk=handoff.pk), alice, deadline=later)
    assert moved.reminders_sent == []

    assert tick(later - timedelta(hours=3), django_capture_on_commit_callbacks) == 1
    assert len(mail.outbox) == 2
