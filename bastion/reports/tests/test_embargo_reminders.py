"""Embargo reminders: once per step, claimed so two workers never double-send, to parties and staff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.embargo_tasks import claim_reminder, send_embargo_reminders, steps_reached
from bastion.reports.models import Embargo, PartyKind, Report
from bastion.reports.services import reporter_actor, update_reporter
from bastion.reports.services.embargo import (
    acknowledge_embargo,
    add_party,
    grant_access,
    lift_embargo,
    move_embargo,
    set_embargo,
)
from bastion.reports.tests.conftest import CANARY
from bastion.test import T0, mail_text, rita

END = T0 + timedelta(days=10)
HOUR, DAY = timedelta(hours=1), timedelta(days=1)


@pytest.fixture(autouse=True)
def _steps(settings) -> None:
    settings.EMBARGO_REMINDER_HOURS = [168, 24, 1]


@pytest.fixture
def embargo(submit, clock, alice, bob, django_capture_on_commit_callbacks) -> Embargo:
    """alice embargoes rita's report until END, with an upstream that has an address; bob is granted."""
    report: Report = submit().report
    alice.time_zone = "Europe/Paris"
    alice.save()
    with django_capture_on_commit_callbacks(execute=True):
        made = set_embargo(report=report, ends_at=END, reason=f"Fix in 4.3 {CANARY}", actor=alice)
        add_party(
            embargo=made, kind="upstream", label="Rails security team", email=uma_address(), actor=alice
        )
        grant_access(report=report, user=bob, actor=alice)
    mail.outbox.clear()
    return made


def uma_address() -> str:
    return "uma@upstream.example"


def tick(capture) -> int:
    """One scheduler run of the reminders, with its mails sent."""
    with capture(execute=True):
        return send_embargo_reminders.call()


def recipients() -> list[str]:
    return sorted(address for message in mail.outbox for address in message.to)


def test_each_step_is_sent_once_to_every_party_and_granted_staff_even_when_the_task_runs_twice(
    embargo, alice, bob, clock, django_capture_on_commit_callbacks
):
    assert tick(django_capture_on_commit_callbacks) == 0  # ten days out: no step yet

    clock.move_to(END - 7 * DAY)
    assert tick(django_capture_on_commit_callbacks) == 1
    assert tick(django_capture_on_commit_callbacks) == 0

    assert recipients() == sorted([rita.email, uma_address(), alice.email, bob.email])
    row = AuditEvent.objects.get(event=Event.EMBARGO_REMINDER_SENT)
    assert row.data["step_hours"] == 168
    assert row.data["unacknowledged"] == 2

    for step in (DAY, HOUR):
        mail.outbox.clear()
        clock.move_to(END - step)
        assert tick(django_capture_on_commit_callbacks) == 1
        assert tick(django_capture_on_commit_callbacks) == 0
        assert len(mail.outbox) == 4
    clock.move_to(END + HOUR)
    assert tick(django_capture_on_commit_callbacks) == 0
    assert AuditEvent.objects.filter(event=Event.EMBARGO_REMINDER_SENT).count() == 3


def test_two_workers_that_read_the_same_row_claim_the_step_once(
    embargo, clock, django_capture_on_commit_callbacks
):
    clock.move_to(END - DAY)
    first, second = Embargo.objects.get(pk=embargo.pk), Embargo.objects.get(pk=embargo.pk)

    with django_capture_on_commit_callbacks(execute=True):
        claimed = [claim_reminder(first, END - DAY), claim_reminder(second, END - DAY)]

    assert claimed == [1, 0]
    assert len(mail.outbox) == 4
    embargo.refresh_from_db()
    assert embargo.reminders_sent == [7 * 86400, 86400]


def test_steps_missed_while_the_worker_was_down_make_one_reminder_not_a_burst(
    embargo, clock, django_capture_on_commit_callbacks
):
    clock.move_to(END - 12 * HOUR)  # past the 7-day and the 1-day steps

    assert tick(django_capture_on_commit_callbacks) == 1

    assert AuditEvent.objects.get(event=Event.EMBARGO_REMINDER_SENT).data["step_hours"] == 24
    assert len(mail.outbox) == 4
    mail.outbox.clear()
    clock.move_to(END - HOUR)
    assert tick(django_capture_on_commit_callbacks) == 1
    assert AuditEvent.objects.filter(event=Event.EMBARGO_REMINDER_SENT).count() == 2


def test_an_embargo_set_a_day_before_its_end_skips_the_steps_already_past(
    submit, alice, clock, django_capture_on_commit_callbacks
):
    report = submit().report
    set_embargo(report=report, ends_at=T0 + 20 * HOUR, reason="Short one", actor=alice)

    assert steps_reached(T0 + 20 * HOUR, T0) == [7 * 86400, 86400]
    assert tick(django_capture_on_commit_callbacks) == 0
    clock.move_to(T0 + 19 * HOUR)
    assert tick(django_capture_on_commit_callbacks) == 1


def test_moving_the_end_starts_the_reminders_over_and_drops_mail_for_the_old_end(
    embargo, alice, clock, django_capture_on_commit_callbacks
):
    clock.move_to(END - DAY)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        send_embargo_reminders.call()
    move_embargo(
        embargo=embargo, ends_at=END + 9 * DAY, reason="Rails asked for more", actor=alice, seen_version=1
    )
    mail.outbox.clear()
    for callback in queued:  # the reminders queued for the old end run only now
        callback()

    assert mail.outbox == []
    clock.move_to(END + 2 * DAY)
    assert tick(django_capture_on_commit_callbacks) == 1
    subjects = [m.subject for m in mail.outbox if m.to == [alice.email]]
    tracking_id = embargo.report.tracking_id
    assert subjects == [
        f"[Bastion {tracking_id}] Embargo ends in 7 days: 20 June 2026, 09:00 UTC (2 not acknowledged)"
    ]


def test_lifted_embargoes_get_no_reminders(embargo, alice, clock, django_capture_on_commit_callbacks):
    lift_embargo(embargo=embargo, actor=alice, reason="Fixed early")
    clock.move_to(END - HOUR)

    assert tick(django_capture_on_commit_callbacks) == 0


def test_staff_read_the_end_in_their_zone_and_in_utc_with_unacknowledged_parties_flagged(
    embargo, alice, clock, django_capture_on_commit_callbacks
):
    acknowledge_embargo(
        party=embargo.parties.get(kind=PartyKind.REPORTER), actor=reporter_actor(embargo.report)
    )
    clock.move_to(END - DAY)

    tick(django_capture_on_commit_callbacks)

    [to_alice] = [m for m in mail.outbox if m.to == [alice.email]]
    text = mail_text(to_alice)
    assert "11 June 2026, 09:00 UTC" in text
    assert "11 June 2026, 11:00 CEST (Europe/Paris)" in text
    assert "Not acknowledged yet" in text
    assert "  - Rails security team" in text
    assert "Acknowledged: Reporter." in text
    assert "(1 not acknowledged)" in to_alice.subject
    assert CANARY not in text


def test_the_reporter_reads_it_in_her_zone_with_her_portal_link_and_never_the_reason(
    embargo, clock, django_capture_on_commit_callbacks
):
    update_reporter(report=embargo.report, actor=reporter_actor(embargo.report), time_zone="Asia/Tokyo")
    clock.move_to(END - HOUR)

    tick(django_capture_on_commit_callbacks)

    [to_rita] = [m for m in mail.outbox if m.to == [rita.email]]
    text = mail_text(to_rita)
    assert "11 June 2026, 09:00 UTC" in text
    assert "11 June 2026, 18:00 JST (Asia/Tokyo)" in text
    assert "/portal/" in text
    assert "acknowledge" in text
    assert CANARY not in text
    assert CANARY not in to_rita.subject


def test_a_reporter_with_a_key_gets_the_reminder_encrypted(
    embargo, clock, rita_key, django_capture_on_commit_callbacks
):
    update_reporter(report=embargo.report, actor=reporter_actor(embargo.report), public_key=rita_key.public)
    clock.move_to(END - HOUR)

    tick(django_capture_on_commit_callbacks)

    [to_rita] = [m for m in mail.outbox if m.to == [rita.email]]
    assert to_rita.message().get_content_type() == "multipart/encrypted"
    [to_uma] = [m for m in mail.outbox if m.to == [uma_address()]]
    assert to_uma.message().get_content_type() == "multipart/signed"


def test_a_party_without_an_address_is_not_mailed_but_staff_hear_of_it(
    embargo, alice, clock, django_capture_on_commit_callbacks
):
    add_party(embargo=embargo, kind="internal", label="Billing team", email=None, actor=alice)
    clock.move_to(END - HOUR)

    tick(django_capture_on_commit_callbacks)

    assert len(mail.outbox) == 4
    assert "  - Billing team" in mail_text(next(m for m in mail.outbox if m.to == [alice.email]))
