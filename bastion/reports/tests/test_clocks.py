"""Response clocks, with a frozen clock: start, meet, re-arm, pause, warn, escalate, breach, auto-close."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.reports import clocks
from bastion.reports.clock_tasks import CLOSED_FOR_SILENCE, check_clocks, close_silent_reports
from bastion.reports.models import (
    Asset,
    AuthorKind,
    Clock,
    ClockKind,
    Message,
    Program,
    Report,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import open_field
from bastion.reports.services import change_status, post_message, reporter_actor
from bastion.reports.services.casework import assign_report
from bastion.reports.services.embargo import set_embargo
from bastion.reports.services.scoring import classify_report
from bastion.reports.tests.conftest import CANARY
from bastion.reports.workflow import Status
from bastion.test import T0, mail_text, rita

HOUR = timedelta(hours=1)


@pytest.fixture
def program(db) -> Program:
    return Program.objects.default()


@pytest.fixture
def report(submit, clock) -> Report:
    created = submit().report
    mail.outbox.clear()
    return created


@pytest.fixture
def assigned(report, alice, bob, dave) -> Report:
    """alice has the report; bob is her on-call backup; alice reads times in Paris."""
    alice.backup, alice.time_zone = bob, "Europe/Paris"
    alice.save()
    assign_report(report=report, assignee=alice, actor=dave)
    return report


def open_clock(report: Report, kind: ClockKind) -> Clock:
    return Clock.objects.get(report=report, kind=kind, met_at=None, stopped_at=None)


def tick(capture) -> int:
    """One scheduler run, with its mails sent."""
    with capture(execute=True):
        return check_clocks.call()


def sweep(capture) -> int:
    with capture(execute=True):
        return close_silent_reports.call()


def mails_to(address: str) -> list:
    return [m for m in mail.outbox if address in m.to]


def audited(event: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event))


# --- Starting, meeting, re-arming ----------------------------------------------------------------


def test_a_new_report_starts_first_response_and_triage(report):
    first, triage = open_clock(report, ClockKind.FIRST_RESPONSE), open_clock(report, ClockKind.TRIAGE)
    assert (first.started_at, first.due_at) == (T0, T0 + 24 * HOUR)
    assert triage.due_at == T0 + 120 * HOUR
    report.refresh_from_db()
    assert report.next_due_at == T0 + 24 * HOUR


def test_a_bounty_program_gives_first_response_72_hours(submit, clock, program):
    program.offers_bounty = True
    program.save()
    report = submit().report
    assert open_clock(report, ClockKind.FIRST_RESPONSE).due_at == T0 + 72 * HOUR


def test_a_public_reply_meets_first_response_and_an_internal_note_does_not(report, alice, clock):
    clock.shift(2 * HOUR)
    post_message(report=report, body="note", visibility=Visibility.INTERNAL, actor=alice)
    assert open_clock(report, ClockKind.FIRST_RESPONSE).met_at is None

    post_message(report=report, body="Thanks, looking.", visibility=Visibility.PUBLIC, actor=alice)

    first = Clock.objects.get(report=report, kind=ClockKind.FIRST_RESPONSE)
    assert first.met_at == T0 + 2 * HOUR
    report.refresh_from_db()
    assert report.next_due_at == T0 + 120 * HOUR  # triage is what is due now


def test_a_reporter_message_re_arms_first_response(report, alice, clock):
    post_message(report=report, body="Thanks, looking.", visibility=Visibility.PUBLIC, actor=alice)
    clock.shift(30 * HOUR)

    post_message(
        report=report, body="More detail", visibility=Visibility.PUBLIC, actor=reporter_actor(report)
    )

    rows = Clock.objects.filter(report=report, kind=ClockKind.FIRST_RESPONSE)
    assert [(c.started_at, c.met_at is not None) for c in rows] == [(T0, True), (T0 + 30 * HOUR, False)]
    assert open_clock(report, ClockKind.FIRST_RESPONSE).due_at == T0 + 54 * HOUR


# --- The scheduler: warning, escalation, breach ----------------------------------------------------


def test_it_warns_the_assignee_at_half_time_and_only_once(
    assigned, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 + 11 * HOUR)
    assert tick(django_capture_on_commit_callbacks) == 0

    clock.move_to(T0 + 12 * HOUR)
    assert tick(django_capture_on_commit_callbacks) == 1
    assert tick(django_capture_on_commit_callbacks) == 0

    (warning,) = mail.outbox
    assert warning.to == ["alice@bastion.example"]
    assert assigned.tracking_id in warning.subject
    assert "First response" in warning.subject
    assert "2 June 2026, 11:00 CEST (Europe/Paris)" in warning.body  # 09:00 UTC in alice's zone
    assert f"https://bastion.example/triage/{assigned.tracking_id}/" in warning.body
    assert CANARY not in f"{warning.subject}{warning.body}"
    assert open_clock(assigned, ClockKind.FIRST_RESPONSE).warned_half_at == T0 + 12 * HOUR


def test_it_warns_again_and_escalates_to_the_backup_before_the_breach(
    assigned, bob, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 + 12 * HOUR)
    tick(django_capture_on_commit_callbacks)
    mail.outbox.clear()

    clock.move_to(T0 + 22 * HOUR)  # 91 %
    assert tick(django_capture_on_commit_callbacks) == 1
    assert tick(django_capture_on_commit_callbacks) == 0

    (late,) = mails_to("alice@bastion.example")
    (escalation,) = mails_to(bob.email)
    assert "nearly missed" in late.subject
    assert "Escalated to you" in escalation.subject
    assert "on-call backup for Alice Triager" in escalation.body
    assert CANARY not in escalation.body
    first = open_clock(assigned, ClockKind.FIRST_RESPONSE)
    assert first.escalated_at == first.warned_late_at == T0 + 22 * HOUR
    assert first.breached_at is None
    (event,) = audited(Event.CLOCK_ESCALATED)
    assert event.actor_kind == ActorKind.SYSTEM
    assert event.data == {"clock": "first_response", "clock_id": first.pk, "to": [bob.pk]}


def test_a_breach_is_recorded_on_the_report_its_timeline_and_the_audit(
    assigned, bob, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 + 24 * HOUR + timedelta(minutes=1))
    assert tick(django_capture_on_commit_callbacks) == 1
    assert tick(django_capture_on_commit_callbacks) == 0

    breached_at = T0 + 24 * HOUR + timedelta(minutes=1)
    first = Clock.objects.get(report=assigned, kind=ClockKind.FIRST_RESPONSE)
    assert first.breached_at == breached_at
    assigned.refresh_from_db()
    assert assigned.breached_at == breached_at
    (entry,) = assigned.timeline.filter(kind=TimelineKind.CLOCK_BREACHED)
    assert not entry.public
    assert entry.data == {"clock": "first_response", "clock_id": first.pk}
    (event,) = audited(Event.CLOCK_BREACHED)
    assert event.actor_kind == ActorKind.SYSTEM
    assert sorted(m.to[0] for m in mail.outbox) == ["alice@bastion.example", bob.email]
    assert all("target missed" in m.subject for m in mail.outbox)


def test_an_unassigned_report_is_escalated_to_the_triagers_on_duty(
    report, bob, dave, clock, django_capture_on_commit_callbacks
):
    bob.on_duty = True
    bob.save()
    clock.move_to(T0 + 22 * HOUR)
    tick(django_capture_on_commit_callbacks)

    assert [m.to for m in mail.outbox] == [[bob.email]]
    assert "nobody is assigned" in mail.outbox[0].body


def test_with_nobody_on_duty_and_no_backup_it_escalates_to_the_admins(
    report, alice, dave, clock, django_capture_on_commit_callbacks
):
    assign_report(report=report, assignee=alice, actor=dave)
    clock.move_to(T0 + 22 * HOUR)
    tick(django_capture_on_commit_callbacks)

    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, dave.email]
    assert "Escalated to you" in mails_to(dave.email)[0].subject


def test_an_embargoed_report_is_escalated_only_to_the_staff_granted_on_it(
    report, alice, bob, clock, django_capture_on_commit_callbacks
):
    bob.on_duty = True
    bob.save()
    set_embargo(report=report, ends_at=T0 + 30 * 24 * HOUR, reason="Upstream fix pending", actor=alice)
    mail.outbox.clear()
    clock.move_to(T0 + 22 * HOUR)
    tick(django_capture_on_commit_callbacks)

    # bob, on duty but not granted, is not told that the report exists; alice, who set it, is.
    assert mail.outbox
    assert {address for m in mail.outbox for address in m.to} == {alice.email}
    assert report.tracking_id in f"{mail.outbox[0].subject} {mail.outbox[0].body}"


def test_a_met_clock_is_neither_warned_about_nor_breached(
    assigned, alice, clock, django_capture_on_commit_callbacks
):
    post_message(report=assigned, body="On it.", visibility=Visibility.PUBLIC, actor=alice)
    mail.outbox.clear()
    clock.move_to(T0 + 30 * HOUR)

    assert tick(django_capture_on_commit_callbacks) == 0
    assert not mail.outbox
    assigned.refresh_from_db()
    assert assigned.breached_at is None


def test_a_target_met_late_between_two_ticks_still_counts_as_breached(report, alice, clock):
    clock.move_to(T0 + 24 * HOUR + timedelta(seconds=20))
    post_message(report=report, body="Sorry for the wait.", visibility=Visibility.PUBLIC, actor=alice)

    first = Clock.objects.get(report=report, kind=ClockKind.FIRST_RESPONSE)
    assert first.met_at == first.breached_at == T0 + 24 * HOUR + timedelta(seconds=20)
    report.refresh_from_db()
    assert report.breached_at == first.breached_at
    assert report.timeline.filter(kind=TimelineKind.CLOCK_BREACHED).count() == 1
    assert len(audited(Event.CLOCK_BREACHED)) == 1


# --- Status moves ----------------------------------------------------------------------------------


def test_needs_more_info_pauses_every_clock_and_leaving_it_resumes_them(
    report, alice, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 + 6 * HOUR)
    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice)

    first = open_clock(report, ClockKind.FIRST_RESPONSE)
    assert (first.paused_at, first.due_at, first.remaining_seconds) == (T0 + 6 * HOUR, None, 18 * 3600)
    report.refresh_from_db()
    assert report.next_due_at is None

    clock.move_to(T0 + 78 * HOUR)  # long past the original due time, but the clock was paused
    assert tick(django_capture_on_commit_callbacks) == 0
    change_status(report=report, to=Status.NEW, actor=alice)

    first.refresh_from_db()
    assert (first.paused_at, first.due_at) == (None, T0 + 96 * HOUR)
    assert open_clock(report, ClockKind.TRIAGE).due_at == T0 + (78 + 114) * HOUR
    report.refresh_from_db()
    assert report.next_due_at == T0 + 96 * HOUR


def test_triage_meets_its_clock_and_starts_resolution_by_severity_and_the_bounty_decision(
    report, alice, clock, program
):
    program.offers_bounty = True
    program.save()
    Report.objects.filter(pk=report.pk).update(severity="critical")
    report.refresh_from_db()
    clock.move_to(T0 + 10 * HOUR)

    change_status(report=report, to=Status.TRIAGED, actor=alice)

    assert Clock.objects.get(report=report, kind=ClockKind.TRIAGE).met_at == T0 + 10 * HOUR
    assert open_clock(report, ClockKind.RESOLUTION).due_at == T0 + (10 + 168) * HOUR
    assert open_clock(report, ClockKind.BOUNTY_DECISION).due_at == T0 + (10 + 336) * HOUR

    clocks.on_bounty_decided(report, at=T0 + 11 * HOUR)
    assert Clock.objects.get(report=report, kind=ClockKind.BOUNTY_DECISION).met_at == T0 + 11 * HOUR


def test_a_new_severity_gives_resolution_its_target_from_the_same_start(report, alice, clock):
    Report.objects.filter(pk=report.pk).update(severity="critical")
    report.refresh_from_db()
    change_status(report=report, to=Status.TRIAGED, actor=alice)

    Report.objects.filter(pk=report.pk).update(severity="high")
    report.refresh_from_db()
    clocks.on_severity_change(report, at=T0 + HOUR)

    resolution = open_clock(report, ClockKind.RESOLUTION)
    assert (resolution.started_at, resolution.target_seconds) == (T0, 720 * 3600)
    assert resolution.due_at == T0 + 720 * HOUR


def test_filing_under_an_asset_of_a_bounty_program_gives_its_targets(report, alice, clock):
    bounty = Program.objects.create(slug="bounty", name="Bounty program", offers_bounty=True)
    asset = Asset.objects.create(name="pay.example.com", program=bounty)
    clock.move_to(T0 + HOUR)

    classify_report(report=report, actor=alice, asset=asset)

    first = open_clock(report, ClockKind.FIRST_RESPONSE)
    assert (first.started_at, first.target_seconds) == (T0, 72 * 3600)
    assert first.due_at == T0 + 72 * HOUR
    report.refresh_from_db()
    assert report.next_due_at == T0 + 72 * HOUR


def test_closing_stops_the_open_clocks_and_reopening_starts_them_again(report, alice, clock):
    clock.move_to(T0 + HOUR)
    change_status(report=report, to=Status.SPAM, actor=alice)

    assert not Clock.objects.filter(report=report, stopped_at=None, met_at=None).exists()
    report.refresh_from_db()
    assert report.next_due_at is None

    clock.move_to(T0 + 5 * HOUR)
    change_status(report=report, to=Status.NEW, actor=alice)

    assert open_clock(report, ClockKind.TRIAGE).started_at == T0 + 5 * HOUR
    assert open_clock(report, ClockKind.FIRST_RESPONSE).due_at == T0 + 29 * HOUR
    assert Clock.objects.filter(report=report).count() == 4  # the stopped pair stays as history


def test_resolving_meets_resolution(report, alice, clock):
    change_status(report=report, to=Status.TRIAGED, actor=alice)
    clock.move_to(T0 + 50 * HOUR)
    change_status(report=report, to=Status.RESOLVED, actor=alice)

    assert Clock.objects.get(report=report, kind=ClockKind.RESOLUTION).met_at == T0 + 50 * HOUR
    assert Clock.objects.get(report=report, kind=ClockKind.FIRST_RESPONSE).stopped_at == T0 + 50 * HOUR


def test_business_hours_and_holidays_set_the_due_time(submit, program):
    program.business_hours = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    program.holidays = ["2026-03-30"]
    program.time_zone = "Europe/Paris"
    program.save()
    # Friday 16:00 in Paris, winter time; the clocks go forward on Sunday; Monday is a holiday.
    with time_machine.travel(datetime(2026, 3, 27, 15, 0, tzinfo=UTC), tick=False):
        report = submit().report

    # 1 office hour on Friday, 23 more from Tuesday 09:00 CEST: Thursday 16:00 CEST, 14:00 UTC.
    assert open_clock(report, ClockKind.FIRST_RESPONSE).due_at == datetime(2026, 4, 2, 14, 0, tzinfo=UTC)


def test_business_hours_warnings_count_office_hours_only(
    submit, alice, dave, program, django_capture_on_commit_callbacks
):
    program.business_hours = {"days": [0, 1, 2, 3, 4], "start": "09:00", "end": "17:00"}
    program.time_zone = "Europe/Paris"
    program.save()
    with time_machine.travel(datetime(2026, 6, 5, 14, 0, tzinfo=UTC), tick=False) as traveller:
        report = submit().report  # Friday 16:00 in Paris
        assign_report(report=report, assignee=alice, actor=dave)
        mail.outbox.clear()

        traveller.move_to(datetime(2026, 6, 8, 7, 0, tzinfo=UTC))  # Monday 09:00: one office hour used
        assert tick(django_capture_on_commit_callbacks) == 0
        traveller.move_to(datetime(2026, 6, 9, 10, 0, tzinfo=UTC))  # Tuesday 12:00: 12 of 24 hours
        assert tick(django_capture_on_commit_callbacks) == 1

    assert [m.to for m in mail.outbox] == [[alice.email]]


def test_terms_that_cannot_be_read_count_calendar_hours_and_lose_no_report(submit, clock, program):
    Program.objects.filter(pk=program.pk).update(time_zone="Mars/Olympus_Mons", business_hours={"days": []})

    report = submit().report

    assert open_clock(report, ClockKind.FIRST_RESPONSE).due_at == T0 + 24 * HOUR


# --- needs_more_info: warn the reporter, then close -----------------------------------------------


def test_a_report_left_waiting_is_warned_once_then_closed(
    report, alice, clock, django_capture_on_commit_callbacks
):
    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice)
    mail.outbox.clear()

    clock.move_to(T0 + 7 * 24 * HOUR + HOUR)
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert sweep(django_capture_on_commit_callbacks) == 0
    (warning,) = mail.outbox
    assert warning.to == [rita.email]
    assert "still waiting" in warning.subject
    assert "15 June 2026, 10:00 UTC" in mail_text(warning)  # seven days after the warning
    assert CANARY not in mail_text(warning)

    clock.move_to(T0 + 14 * 24 * HOUR + HOUR)
    assert sweep(django_capture_on_commit_callbacks) == 1
    assert sweep(django_capture_on_commit_callbacks) == 0

    report.refresh_from_db()
    assert report.status == Status.INFORMATIVE
    warned, closed = Message.objects.filter(report=report)
    for message in (warned, closed):
        assert (message.author_kind, message.visibility) == (AuthorKind.SYSTEM, Visibility.PUBLIC)
    assert "15 June 2026, 10:00 UTC" in (open_field(warned, "body", key=report.data_key_plain()) or "")
    assert open_field(closed, "body", key=report.data_key_plain()) == CLOSED_FOR_SILENCE
    assert "was closed" in mail.outbox[-1].subject
    assert len(mail.outbox) == 2
    assert not Clock.objects.filter(report=report, met_at=None, stopped_at=None).exists()


def test_a_reporter_without_an_address_is_warned_in_the_portal_first(
    submit, alice, clock, django_capture_on_commit_callbacks
):
    report = submit(email="", credit_preference="anonymous", reporter_name="", reporter_handle="").report
    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice)

    clock.move_to(T0 + 7 * 24 * HOUR + HOUR)
    sweep(django_capture_on_commit_callbacks)

    (warning,) = Message.objects.filter(report=report, visibility=Visibility.PUBLIC)
    assert "still waiting" in (open_field(warning, "body", key=report.data_key_plain()) or "")
    report.refresh_from_db()
    assert report.status == Status.NEEDS_MORE_INFO


def test_a_reporter_who_answered_is_not_closed_on(report, alice, clock, django_capture_on_commit_callbacks):
    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice)
    clock.move_to(T0 + 24 * HOUR)
    post_message(report=report, body="Here it is", visibility=Visibility.PUBLIC, actor=reporter_actor(report))

    clock.move_to(T0 + 30 * 24 * HOUR)
    assert sweep(django_capture_on_commit_callbacks) == 0

    report.refresh_from_db()
    assert report.status == Status.NEEDS_MORE_INFO
    # Their answer is owed a reply: first response runs again, although the report still waits.
    assert open_clock(report, ClockKind.FIRST_RESPONSE).paused_at is None


def test_a_worker_that_was_down_still_warns_first_and_gives_the_notice_period(
    report, alice, clock, django_capture_on_commit_callbacks
):
    change_status(report=report, to=Status.NEEDS_MORE_INFO, actor=alice)
    mail.outbox.clear()

    clock.move_to(T0 + 20 * 24 * HOUR)  # past both the warning and the closing time
    assert sweep(django_capture_on_commit_callbacks) == 0
    assert len(mail.outbox) == 1

    clock.move_to(T0 + 26 * 24 * HOUR)  # six of the seven days' notice
    assert sweep(django_capture_on_commit_callbacks) == 0
    clock.move_to(T0 + 27 * 24 * HOUR + HOUR)
    assert sweep(django_capture_on_commit_callbacks) == 1
