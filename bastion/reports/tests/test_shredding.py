"""Crypto-shredding reports: the shred, deletion decisions, retention, and the ledger after a restore."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.db import transaction

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Clock, Report, Reporter, RetentionRule, TimelineEntry, TimelineKind
from bastion.reports.services import (
    ShredReason,
    apply_retention,
    approve_deletion,
    change_status,
    enforce_shred_ledger,
    open_attachment,
    open_report,
    pending_deletions,
    refusal_reason,
    refuse_deletion,
    reporter_actor,
    reports_for_email,
    request_deletion,
    set_retention_rule,
    shred_report,
    tidy_shredded,
    tombstone,
)
from bastion.reports.services import shredding as shredding_services
from bastion.reports.tests.conftest import CANARY, a_file, blob_files
from bastion.test import rita
from bastion.vault.errors import KeyDestroyed
from bastion.vault.models import DataKey
from bastion.vault.shredding import shred_ledger
from bastion.worker.scheduler import registered_jobs

pytestmark = pytest.mark.django_db

SYSTEM = Actor.system()


@pytest.fixture(autouse=True)
def state_dir(private_keys, settings) -> Path:
    """The shred ledger of each test, beside its own master key."""
    return settings.VAULT_STATE_DIR


@pytest.fixture
def report(submit) -> Report:
    """rita's report with one file; its clocks are running."""
    return submit(attachments=[a_file()]).report


def audit(event: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("id"))


def shred(report: Report, capture, *, actor=SYSTEM, why=ShredReason.OPERATOR) -> Report:
    with capture(execute=True):
        return shred_report(report=report, actor=actor, why=why)


# --- shred_report ---------------------------------------------------------------------------------


def test_shredding_destroys_the_key_so_nothing_of_the_report_opens(
    report, private_vault, django_capture_on_commit_callbacks, dave
):
    attachment = report.attachments.get()

    shred(report, django_capture_on_commit_callbacks)

    key = DataKey.objects.get(pk=report.data_key_id)
    assert key.is_destroyed
    assert bytes(key.wrapped) == b""
    fresh = Report.objects.select_related("data_key", "reporter").get(pk=report.pk)
    with pytest.raises(KeyDestroyed):
        open_report(report=fresh, actor=dave)
    with pytest.raises(KeyDestroyed):
        open_attachment(attachment=attachment, actor=dave)
    assert blob_files(private_vault) == []


def test_a_shredded_report_is_a_tombstone_with_its_date_and_reason(
    report, django_capture_on_commit_callbacks
):
    shred(report, django_capture_on_commit_callbacks, why=ShredReason.RETENTION)

    grave = tombstone(Report.objects.get(pk=report.pk))

    assert grave is not None
    assert grave.destroyed_at == DataKey.objects.get(pk=report.data_key_id).destroyed_at
    assert grave.why == ShredReason.RETENTION
    assert grave.reason == "under the retention policy"
    assert grave.report.tracking_id == report.tracking_id


def test_a_report_that_was_not_shredded_has_no_tombstone(report):
    assert tombstone(report) is None


def test_shredding_is_audited_without_content(report, django_capture_on_commit_callbacks):
    shred(report, django_capture_on_commit_callbacks)

    [event] = audit(Event.REPORT_SHREDDED)
    assert event.data == {"why": "operator", "tracking_id": report.tracking_id}
    assert (event.actor_kind, event.target_id) == ("system", str(report.pk))
    assert CANARY not in str(event.data)


def test_the_ledger_line_names_the_key_s_subject_with_the_reason(report, django_capture_on_commit_callbacks):
    shred(report, django_capture_on_commit_callbacks, why=ShredReason.RETENTION)

    entries = shred_ledger().entries()
    subject = DataKey.objects.get(pk=report.data_key_id).subject
    assert subject == f"report:{report.uid}"
    assert list(entries) == [subject]
    assert entries[subject].why == "retention"
    assert entries[subject].at == DataKey.objects.get(pk=report.data_key_id).destroyed_at


def test_shredding_unlinks_the_report_from_its_reporter(submit, django_capture_on_commit_callbacks):
    report = submit(idempotency_key="retry-1").report
    assert reports_for_email(rita.email) == [report]

    shred(report, django_capture_on_commit_callbacks)

    report.refresh_from_db()
    assert reports_for_email(rita.email) == []
    assert Reporter.objects.get(pk=report.reporter_id).email_digest == ""
    assert (report.idempotency_key_digest, report.request_digest) == (None, "")


def test_shredding_stops_the_clocks_and_tells_the_reporter(report, django_capture_on_commit_callbacks):
    assert Clock.objects.running().filter(report=report).exists()

    shred(report, django_capture_on_commit_callbacks)

    report.refresh_from_db()
    assert not Clock.objects.running().filter(report=report).exists()
    assert report.next_due_at is None
    entry = TimelineEntry.objects.get(report=report, kind=TimelineKind.SHREDDED)
    assert entry.public
    assert entry.data == {"why": "operator"}


def test_the_files_stay_until_the_shred_commits(report, private_vault):
    before = blob_files(private_vault)
    assert before

    def shred_then_fail() -> None:
        with transaction.atomic():
            shred_report(report=report, actor=SYSTEM, why=ShredReason.OPERATOR)
            raise RuntimeError("the caller's transaction rolls back")

    with pytest.raises(RuntimeError, match="rolls back"):
        shred_then_fail()

    assert blob_files(private_vault) == before
    assert not DataKey.objects.get(pk=report.data_key_id).is_destroyed


def test_shredding_twice_changes_nothing_the_second_time(report, django_capture_on_commit_callbacks):
    shred(report, django_capture_on_commit_callbacks)
    first = DataKey.objects.get(pk=report.data_key_id).destroyed_at

    shred(Report.objects.get(pk=report.pk), django_capture_on_commit_callbacks)

    assert len(audit(Event.REPORT_SHREDDED)) == 1
    assert len(shred_ledger().path.read_text().splitlines()) == 1
    assert DataKey.objects.get(pk=report.data_key_id).destroyed_at == first
    assert TimelineEntry.objects.filter(report=report, kind=TimelineKind.SHREDDED).count() == 1


def test_a_crash_after_the_ledger_line_errs_towards_destroying(
    report, monkeypatch, django_capture_on_commit_callbacks
):
    def crash(*args: object, **kwargs: object) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(shredding_services, "_tidy", crash)
    with pytest.raises(OSError, match="disk went away"):
        shred_report(report=report, actor=SYSTEM, why=ShredReason.OPERATOR)
    monkeypatch.undo()
    assert not DataKey.objects.get(pk=report.data_key_id).is_destroyed

    with django_capture_on_commit_callbacks(execute=True):
        assert enforce_shred_ledger(actor=SYSTEM) == 1

    assert DataKey.objects.get(pk=report.data_key_id).is_destroyed
    assert TimelineEntry.objects.filter(report=report, kind=TimelineKind.SHREDDED).exists()


@pytest.mark.parametrize("who", ["alice", "charlie", "nobody", "reporter"])
def test_only_admins_and_bastion_itself_may_shred(report, who, request):
    others = {"nobody": None, "reporter": reporter_actor(report)}
    actor = others[who] if who in others else request.getfixturevalue(who)

    with pytest.raises(PermissionDenied):
        shred_report(report=report, actor=actor, why=ShredReason.OPERATOR)
    assert not DataKey.objects.get(pk=report.data_key_id).is_destroyed
    assert not shred_ledger().path.exists()


def test_an_admin_may_shred(report, dave, django_capture_on_commit_callbacks):
    shred(report, django_capture_on_commit_callbacks, actor=dave)

    assert audit(Event.REPORT_SHREDDED)[0].actor_id == dave.pk


# --- deletion requests ----------------------------------------------------------------------------


@pytest.fixture
def requested(report) -> Report:
    return request_deletion(report=report, actor=reporter_actor(report))


def test_an_admin_approving_a_deletion_request_shreds_the_report(
    requested, dave, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approve_deletion(report=requested, actor=dave, ip="203.0.113.9")

    requested.refresh_from_db()
    assert requested.deletion_decided_at is not None
    assert requested.deletion_decided_by == dave
    assert requested.data_key.is_destroyed
    assert [e.data for e in audit(Event.REPORT_SHREDDED)] == [
        {"why": "deletion_request", "tracking_id": requested.tracking_id}
    ]
    assert audit(Event.DELETION_APPROVED)[0].actor_id == dave.pk
    assert list(pending_deletions()) == []


def test_a_triager_may_not_decide_a_deletion_request(requested, alice):
    with pytest.raises(PermissionDenied):
        approve_deletion(report=requested, actor=alice)
    with pytest.raises(PermissionDenied):
        refuse_deletion(report=requested, actor=alice, reason="We keep it.")

    requested.refresh_from_db()
    assert requested.deletion_decided_at is None
    assert not requested.data_key.is_destroyed


def test_there_is_nothing_to_approve_without_a_request(report, dave):
    with pytest.raises(ReportRejected, match="has no deletion request"):
        approve_deletion(report=report, actor=dave)

    assert not DataKey.objects.get(pk=report.data_key_id).is_destroyed
    assert audit(Event.DELETION_APPROVED) == []


def test_a_decided_request_cannot_be_decided_again(requested, dave):
    refuse_deletion(report=requested, actor=dave, reason="A fix is in progress.")

    with pytest.raises(ReportRejected, match="already decided"):
        approve_deletion(report=requested, actor=dave)
    assert not DataKey.objects.get(pk=requested.data_key_id).is_destroyed


def test_refusing_keeps_the_report_and_seals_the_reason_for_the_reporter(requested, dave):
    reason = f"A fix is still in progress. {CANARY}"

    refuse_deletion(report=requested, actor=dave, reason=reason)

    stored = Report.objects.select_related("data_key", "reporter").get(pk=requested.pk)
    assert stored.deletion_refusal is not None
    assert CANARY.encode() not in bytes(stored.deletion_refusal)
    assert stored.deletion_decided_by == dave
    opened = open_report(report=stored, actor=reporter_actor(stored))
    assert refusal_reason(opened) == reason
    entry = TimelineEntry.objects.get(report=stored, kind=TimelineKind.DELETION_REFUSED)
    assert entry.public
    assert entry.data == {}
    [event] = audit(Event.DELETION_REFUSED)
    assert event.actor_id == dave.pk
    assert CANARY not in str(event.data)
    assert list(pending_deletions()) == []


@pytest.mark.parametrize("reason", ["", "   \n "])
def test_a_refusal_needs_a_reason(requested, dave, reason):
    with pytest.raises(ReportRejected) as refused:
        refuse_deletion(report=requested, actor=dave, reason=reason)

    assert "reason" in refused.value.message_dict
    requested.refresh_from_db()
    assert requested.deletion_decided_at is None


def test_pending_deletions_are_the_undecided_requests_of_live_reports(
    submit, dave, django_capture_on_commit_callbacks
):
    waiting, refused, shredded, _never = (submit().report for _ in range(4))
    for report in (waiting, refused, shredded):
        request_deletion(report=report, actor=reporter_actor(report))
    refuse_deletion(report=refused, actor=dave, reason="Kept for the fix.")
    shred(shredded, django_capture_on_commit_callbacks)

    assert list(pending_deletions()) == [waiting]


# --- retention ------------------------------------------------------------------------------------

START = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


def closed_as_spam(submit, alice, *, days_ago: int) -> Report:
    with time_machine.travel(START - timedelta(days=days_ago), tick=False):
        report = submit().report
        change_status(report=report, to="spam", actor=alice)
    return report


def test_retention_shreds_reports_closed_longer_ago_than_their_rule_allows(submit, alice, dave):
    set_retention_rule(status="spam", after_days=30, actor=dave)
    old = closed_as_spam(submit, alice, days_ago=31)
    recent = closed_as_spam(submit, alice, days_ago=29)

    with time_machine.travel(START, tick=False):
        assert apply_retention() == 1
        assert apply_retention() == 0

    assert DataKey.objects.get(pk=old.data_key_id).is_destroyed
    assert not DataKey.objects.get(pk=recent.data_key_id).is_destroyed
    [event] = audit(Event.REPORT_SHREDDED)
    assert (event.actor_kind, event.data["why"]) == ("system", "retention")


def test_retention_leaves_states_without_a_rule_alone(submit, alice, dave):
    set_retention_rule(status="informative", after_days=1, actor=dave)
    spam = closed_as_spam(submit, alice, days_ago=400)

    assert apply_retention(now=START) == 0
    assert not DataKey.objects.get(pk=spam.data_key_id).is_destroyed


def test_retention_works_through_many_reports_in_batches(submit, alice, dave, monkeypatch):
    monkeypatch.setattr(shredding_services, "RETENTION_BATCH", 2)
    set_retention_rule(status="spam", after_days=30, actor=dave)
    reports = [closed_as_spam(submit, alice, days_ago=40) for _ in range(5)]

    assert apply_retention(now=START) == 5
    assert all(DataKey.objects.get(pk=r.data_key_id).is_destroyed for r in reports)


def test_setting_a_retention_rule_is_audited_with_the_old_and_new_days(dave):
    set_retention_rule(status="spam", after_days=30, actor=dave)
    set_retention_rule(status="spam", after_days=30, actor=dave)  # no change: no row
    set_retention_rule(status="spam", after_days=60, actor=dave)
    assert set_retention_rule(status="spam", after_days=None, actor=dave) is None

    assert [e.data for e in audit(Event.RETENTION_RULE_CHANGED)] == [
        {"status": "spam", "from": None, "to": 30},
        {"status": "spam", "from": 30, "to": 60},
        {"status": "spam", "from": 60, "to": None},
    ]
    assert not RetentionRule.objects.exists()


@pytest.mark.parametrize(
    ("status", "days", "field"),
    [
        ("new", 30, "status"),
        ("triaged", 30, "status"),
        ("spam", 0, "after_days"),
        ("spam", 3651, "after_days"),
    ],
)
def test_a_retention_rule_must_be_for_a_closed_state_and_a_sane_number_of_days(dave, status, days, field):
    with pytest.raises(ReportRejected) as refused:
        set_retention_rule(status=status, after_days=days, actor=dave)

    assert field in refused.value.message_dict
    assert not RetentionRule.objects.exists()


def test_only_admins_set_retention_rules(alice):
    with pytest.raises(PermissionDenied):
        set_retention_rule(status="spam", after_days=30, actor=alice)


# --- the ledger after a restore -------------------------------------------------------------------


def restore_key_row(report: Report, wrapped: bytes) -> None:
    """What restoring an archive made before the shred does: the key row alive, no tidy traces."""
    DataKey.objects.filter(pk=report.data_key_id).update(wrapped=wrapped, destroyed_at=None)
    TimelineEntry.objects.filter(report=report, kind=TimelineKind.SHREDDED).delete()


def test_enforcing_the_ledger_destroys_again_a_key_a_restore_brought_back(
    report, django_capture_on_commit_callbacks, dave
):
    wrapped = bytes(DataKey.objects.get(pk=report.data_key_id).wrapped)
    shred(report, django_capture_on_commit_callbacks)
    restore_key_row(report, wrapped)
    revived = Report.objects.select_related("data_key", "reporter").get(pk=report.pk)
    assert CANARY in open_report(report=revived, actor=dave).title  # the restore really revived it

    with django_capture_on_commit_callbacks(execute=True):
        assert enforce_shred_ledger(actor=SYSTEM) == 1

    assert DataKey.objects.get(pk=report.data_key_id).is_destroyed
    assert TimelineEntry.objects.get(report=report, kind=TimelineKind.SHREDDED).data == {"why": "operator"}
    assert [e.data for e in audit(Event.SHRED_LEDGER_APPLIED)] == [{"destroyed": 1, "tidied": 1}]
    assert enforce_shred_ledger(actor=SYSTEM) == 0
    assert len(audit(Event.SHRED_LEDGER_APPLIED)) == 1


def test_enforcing_the_ledger_costs_one_select_when_there_is_nothing_to_do(
    report, django_capture_on_commit_callbacks, django_assert_num_queries
):
    shred(report, django_capture_on_commit_callbacks)

    with django_assert_num_queries(1):
        assert enforce_shred_ledger(actor=SYSTEM) == 0


def test_enforcing_an_empty_ledger_touches_no_table(db, django_assert_num_queries):
    with django_assert_num_queries(0):
        assert enforce_shred_ledger(actor=SYSTEM) == 0


def test_tidying_finishes_a_key_destroyed_behind_the_services_back(
    report, private_vault, django_capture_on_commit_callbacks
):
    DataKey.objects.get(pk=report.data_key_id).shred()

    with django_capture_on_commit_callbacks(execute=True):
        assert tidy_shredded() == 1
    assert tidy_shredded() == 0

    assert blob_files(private_vault) == []
    assert TimelineEntry.objects.filter(report=report, kind=TimelineKind.SHREDDED).count() == 1
    assert Reporter.objects.get(pk=report.reporter_id).email_digest == ""


def test_the_worker_runs_retention_daily_and_the_ledger_every_ten_minutes():
    jobs = registered_jobs()

    assert jobs["bastion.reports.retention_tasks.apply_retention_rules"].every == timedelta(days=1)
    assert jobs["bastion.reports.retention_tasks.enforce_shred_ledger_task"].every == timedelta(minutes=10)
