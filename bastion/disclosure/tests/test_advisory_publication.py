"""Scheduling and publishing advisories: embargo, reporters told, checklist, task, updates, withdrawal."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.exceptions import PermissionDenied
from django.db import connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.disclosure import publish_tasks
from bastion.disclosure.exports.testing import RAILS
from bastion.disclosure.models import Advisory, AdvisoryChange, AdvisoryState, PublishedDocument
from bastion.disclosure.services.advisories import (
    AdvisoryRejected,
    PublicationBlocked,
    approve_advisory,
    edit_advisory,
    prepublish_checklist,
    publish_advisory,
    schedule_publication,
    submit_for_review,
    update_published_advisory,
    withdraw_advisory,
)
from bastion.disclosure.tests.conftest import ORG_ID, embargo_end, full_content, make_ready
from bastion.reports.models import (
    Credit,
    Embargo,
    Message,
    Report,
    Reporter,
    TimelineEntry,
    TimelineKind,
    Visibility,
)
from bastion.reports.services import open_report, reporter_actor
from bastion.reports.services.credits import confirm_credit, correct_credit
from bastion.reports.services.embargo import break_glass, grant_access, move_embargo, set_embargo
from bastion.reports.tests.conftest import CANARY, private_vault  # noqa: F401  (the autouse fixture)
from bastion.reports.tests.test_submit_report import every_stored_value, leaks
from bastion.test import rita, run_at_once
from bastion.vault.orgkey import get_org_key
from bastion.worker.scheduler import registered_jobs

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


def _planned(report: Report) -> list[dict]:
    return [e.data for e in TimelineEntry.objects.filter(report=report, kind=TimelineKind.ADVISORY_PLANNED)]


def _events(event: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("id"))


# --- Scheduling ------------------------------------------------------------------------------------


def test_it_plans_at_the_embargo_end_by_default_and_tells_the_reporter(
    draft, report, alice, django_capture_on_commit_callbacks
):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)
    mail.outbox.clear()

    with django_capture_on_commit_callbacks(execute=True):
        schedule_publication(advisory=draft, actor=alice)

    draft.refresh_from_db()
    assert draft.publish_at == ends == draft.notified_publish_at
    assert draft.reporter_notified_at is not None
    told = Message.objects.filter(report=report, visibility=Visibility.PUBLIC).last()
    assert told is not None
    assert told.author == alice
    assert _planned(report) == [{"identifier": draft.identifier, "publish_at": ends.isoformat()}]
    assert [m.to for m in mail.outbox] == [[rita.email]]
    notified = _events(Event.REPORTER_NOTIFIED_OF_DATE)
    assert [e.data for e in notified] == [{"report": report.tracking_id, "publish_at": ends.isoformat()}]


def test_the_reporter_reads_the_date_on_their_own_clock_with_utc_beside_it(draft, report, alice):
    Reporter.objects.filter(pk=report.reporter_id).update(time_zone="America/New_York")
    report.reporter.refresh_from_db()
    at = datetime(2031, 7, 1, 16, 0, tzinfo=UTC)

    schedule_publication(advisory=draft, actor=alice, publish_at=at)

    body = open_report(report=report, actor=alice).messages[-1].body
    assert (
        f"{draft.identifier}, on 1 July 2031, 12:00 EDT (America/New_York) (01 Jul 2031, 16:00 UTC)" in body
    )


def test_it_refuses_a_date_before_the_embargo_ends(draft, report, alice):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)

    with pytest.raises(AdvisoryRejected, match="never published before it") as refused:
        schedule_publication(advisory=draft, actor=alice, publish_at=ends - timedelta(seconds=1))

    assert refused.value.field == "publish_at"
    draft.refresh_from_db()
    assert draft.publish_at is None
    assert draft.reporter_notified_at is None
    assert _planned(report) == []


def test_the_lead_may_plan_before_the_embargo_only_with_a_reason_which_is_sealed_and_audited(
    draft, report, alice, dave
):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)
    grant_access(report=report, user=dave, actor=alice)
    early = ends - timedelta(days=1)

    with pytest.raises(AdvisoryRejected, match="say why") as refused:
        schedule_publication(advisory=draft, actor=dave, publish_at=early)
    assert refused.value.field == "override_reason"

    reason = f"Exploited in the wild; customers must patch now {CANARY}"
    schedule_publication(advisory=draft, actor=dave, publish_at=early, override_reason=reason)

    draft.refresh_from_db()
    assert (draft.publish_at, draft.override_by) == (early, dave)
    overridden = _events(Event.ADVISORY_EMBARGO_OVERRIDDEN)
    assert [e.data for e in overridden] == [
        {"publish_at": early.isoformat(), "embargo_ends_at": ends.isoformat()}
    ]
    assert leaks(CANARY, every_stored_value()) == []
    with time_machine.travel(early, tick=False):
        embargo_item = prepublish_checklist(draft, now=early).items[0]
    assert embargo_item.key == "embargo"
    assert embargo_item.ok
    assert "Dave Lead (the lead) overrode it" in embargo_item.why


def test_an_override_does_not_cover_an_embargo_moved_later_after_it(draft, report, alice, dave):
    ends = embargo_end()
    embargo = set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)
    grant_access(report=report, user=dave, actor=alice)
    early = ends - timedelta(days=1)
    schedule_publication(
        advisory=draft, actor=dave, publish_at=early, override_reason="Exploited in the wild"
    )

    # Upstream needs a month more; the lead's override was for the old end, not this one.
    move_embargo(
        embargo=embargo,
        ends_at=ends + timedelta(days=30),
        reason="Upstream asked for more time",
        actor=alice,
        seen_version=embargo.version,
    )

    draft.refresh_from_db()
    with time_machine.travel(early, tick=False):
        embargo_item = prepublish_checklist(draft, now=early).items[0]
    assert not embargo_item.ok
    assert "later than the end the lead's override was given against" in embargo_item.why


def test_a_break_glass_look_is_for_reading_not_for_approving_or_scheduling(draft, report, alice, bob):
    set_embargo(report=report, ends_at=embargo_end(), reason="Fix ships with 7.1.3.1", actor=alice)
    submit_for_review(advisory=draft, actor=alice)
    break_glass(report=report, actor=bob, reason="Checking the wording alice asked about")

    with pytest.raises(PermissionDenied, match="break-glass look is for reading"):
        approve_advisory(advisory=draft, actor=bob)
    with pytest.raises(PermissionDenied, match="break-glass look is for reading"):
        schedule_publication(advisory=draft, actor=bob)

    grant_access(report=report, user=bob, actor=alice)
    assert approve_advisory(advisory=draft, actor=bob).state == AdvisoryState.APPROVED


def test_moving_the_date_tells_the_reporter_again_and_the_same_date_does_not(draft, report, alice):
    first = embargo_end(days=3)
    schedule_publication(advisory=draft, actor=alice, publish_at=first)
    schedule_publication(advisory=draft, actor=alice, publish_at=first)
    later = first + timedelta(hours=6)
    schedule_publication(advisory=draft, actor=alice, publish_at=later)

    assert [d["publish_at"] for d in _planned(report)] == [first.isoformat(), later.isoformat()]
    assert Message.objects.filter(report=report, author=alice).count() == 2
    assert Advisory.objects.get(pk=draft.pk).notified_publish_at == later


def test_a_time_already_past_is_refused(draft, alice):
    with pytest.raises(AdvisoryRejected, match="has passed"):
        schedule_publication(advisory=draft, actor=alice, publish_at=embargo_end(days=-1))


# --- The checklist, one item at a time ---------------------------------------------------------------


def _embargo_moved_later(advisory: Advisory, report: Report, ends, alice, bob) -> None:
    embargo = Embargo.objects.get(report=report)
    move_embargo(
        embargo=embargo,
        ends_at=ends + timedelta(days=1),
        reason="Upstream asked",
        actor=alice,
        seen_version=None,
    )


def _planned_later(advisory: Advisory, report: Report, ends, alice, bob) -> None:
    schedule_publication(advisory=advisory, actor=alice, publish_at=ends + timedelta(hours=1))


def _edited_after_approval(advisory: Advisory, report: Report, ends, alice, bob) -> None:
    content = full_content(summary="One more sentence.")
    edit_advisory(advisory=advisory, content=content, actor=alice, seen_version=advisory.version)


def _credit_unconfirmed(advisory: Advisory, report: Report, ends, alice, bob) -> None:
    Credit.objects.filter(report=report, is_reporter=True).update(confirmed_at=None)


def _reporters_never_told(advisory: Advisory, report: Report, ends, alice, bob) -> None:
    # As for an advisory planned before Bastion told reporters: the date was never sent.
    Advisory.objects.filter(pk=advisory.pk).update(reporter_notified_at=None, notified_publish_at=None)


BREAKERS: dict[str, Callable | None] = {
    "embargo": _embargo_moved_later,
    "schedule": _planned_later,
    "approval": _edited_after_approval,
    "exports": None,  # the CVE record needs the CNA's orgId: unset, the CVE export cannot validate
    "credits": _credit_unconfirmed,
    "notified": _reporters_never_told,
}


@pytest.mark.parametrize("item", list(BREAKERS))
def test_publication_is_blocked_by_each_item_alone(item, draft, report, alice, bob, settings):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    breaker = BREAKERS[item]
    if breaker is None:
        settings.CVE_ORG_ID = ""
    else:
        breaker(draft, report, ends, alice, bob)
    draft.refresh_from_db()

    with time_machine.travel(ends, tick=False):
        checklist = prepublish_checklist(draft, now=ends)
        assert [failed.key for failed in checklist.failing] == [item]
        with pytest.raises(PublicationBlocked) as blocked:
            publish_advisory(advisory=draft, actor=alice, now=ends)

    assert [failed.key for failed in blocked.value.checklist.failing] == [item]
    assert blocked.value.checklist.failing[0].todo  # it says what to do
    draft.refresh_from_db()
    assert draft.published_at is None
    assert draft.published is None
    assert PublishedDocument.objects.count() == AdvisoryChange.objects.count() == 0
    assert [e.data["failing"] for e in _events(Event.ADVISORY_PUBLISH_BLOCKED)] == [[item]]


def test_a_ready_advisory_passes_every_item(draft, report, alice, bob):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends, tick=False):
        checklist = prepublish_checklist(draft, now=ends)

    assert [(i.key, i.ok) for i in checklist.items] == [
        ("embargo", True),
        ("schedule", True),
        ("approval", True),
        ("exports", True),
        ("credits", True),
        ("notified", True),
    ]


# --- Publishing ------------------------------------------------------------------------------------


def test_publishing_writes_the_public_form_the_signed_exports_the_credits_and_the_timeline(
    draft, report, alice, bob
):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends, tick=False):
        publish_advisory(advisory=draft, actor=alice)

    draft.refresh_from_db()
    assert (draft.state, draft.published_at, draft.published_revision) == (AdvisoryState.PUBLISHED, ends, 1)
    public = draft.published
    assert public["content"]["title"] == full_content().title  # public now, in clear
    assert public["credits"] == [{"name": rita.full_name, "credit_type": "finder", "link": ""}]
    assert [r["summary"] for r in public["revisions"]] == ["Initial publication"]
    assert sorted(PublishedDocument.objects.values_list("kind", flat=True)) == ["csaf", "cve", "osv"]
    csaf = json.loads(PublishedDocument.objects.get(kind="csaf").content)
    assert csaf["document"]["tracking"]["id"] == draft.identifier
    assert list(draft.changes.values_list("revision", "summary")) == [(1, "Initial publication")]
    published = TimelineEntry.objects.get(report=report, kind=TimelineKind.ADVISORY_PUBLISHED)
    assert published.public
    assert published.data == {"identifier": draft.identifier}
    assert Credit.objects.get(report=report, is_reporter=True).published_at == ends
    assert [e.data["revision"] for e in _events(Event.ADVISORY_PUBLISHED)] == [1]


def test_the_task_publishes_at_the_embargo_instant_and_not_a_second_before(draft, report, alice, bob):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends - timedelta(seconds=1), tick=False):
        assert publish_tasks.publish_due_advisories.call() == 0
    assert Advisory.objects.get(pk=draft.pk).published_at is None
    assert _events(Event.ADVISORY_PUBLISH_BLOCKED) == []

    with time_machine.travel(ends, tick=False):
        assert publish_tasks.publish_due_advisories.call() == 1
    assert Advisory.objects.get(pk=draft.pk).published_at == ends


def test_the_task_run_twice_publishes_once(draft, report, alice, bob):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends + timedelta(minutes=1), tick=False):
        runs = [publish_tasks.publish_due_advisories.call() for _ in range(2)]

    assert runs == [1, 0]
    assert AdvisoryChange.objects.count() == 1
    assert len(_events(Event.ADVISORY_PUBLISHED)) == 1
    assert TimelineEntry.objects.filter(kind=TimelineKind.ADVISORY_PUBLISHED).count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_workers_at_once_publish_once(submit, alice, bob, settings):
    if connection.vendor == "sqlite" and connection.is_in_memory_db():  # type: ignore[attr-defined]
        pytest.skip("needs a file or server database (see reports/tests/test_concurrency.py)")
    from bastion.disclosure.services.advisories import create_advisory

    settings.CVE_ORG_ID = ORG_ID
    get_org_key()
    report = submit().report
    advisory = create_advisory(reports=[report], content=full_content(), actor=alice)
    ends = embargo_end()
    make_ready(advisory, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends, tick=False):
        runs = run_at_once(publish_tasks.publish_due_advisories.call, times=3)

    assert sorted(runs) == [0, 0, 1]
    assert AdvisoryChange.objects.count() == 1
    assert len(_events(Event.ADVISORY_PUBLISHED)) == 1


def test_a_blocked_publication_is_recorded_and_mailed_once(
    draft, report, alice, bob, dave, django_capture_on_commit_callbacks
):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    Credit.objects.filter(report=report, is_reporter=True).update(confirmed_at=None)
    mail.outbox.clear()

    with time_machine.travel(ends, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert publish_tasks.publish_due_advisories.call() == 0
    with (
        time_machine.travel(ends + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert publish_tasks.publish_due_advisories.call() == 0

    assert [e.data["failing"] for e in _events(Event.ADVISORY_PUBLISH_BLOCKED)] == [["credits"]]
    assert sorted(m.to[0] for m in mail.outbox) == [alice.email, dave.email]
    message = mail.outbox[0]
    assert draft.identifier in message.subject
    assert "Not published" in message.subject
    assert "Credit consent is recorded: no." in message.body
    assert CANARY not in message.body
    assert rita.full_name not in message.body
    assert Advisory.objects.get(pk=draft.pk).published_at is None


def test_a_block_under_a_running_embargo_is_mailed_only_to_staff_granted_on_it(
    draft, report, alice, bob, dave, django_capture_on_commit_callbacks
):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    embargo = report.embargo
    move_embargo(
        embargo=embargo,
        ends_at=ends + timedelta(days=3),
        reason="Upstream asked for more time",
        actor=alice,
        seen_version=embargo.version,
    )
    mail.outbox.clear()

    with time_machine.travel(ends, tick=False), django_capture_on_commit_callbacks(execute=True):
        assert publish_tasks.publish_due_advisories.call() == 0

    # dave, an admin not granted on the report, must not learn of it, nor of its embargo's end.
    assert dave.email not in [address for m in mail.outbox for address in m.to]
    assert alice.email in [address for m in mail.outbox for address in m.to]


def test_once_unblocked_the_task_publishes_at_its_next_run(draft, report, alice, bob):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    confirmed = Credit.objects.get(report=report, is_reporter=True).confirmed_at
    Credit.objects.filter(report=report, is_reporter=True).update(confirmed_at=None)

    with time_machine.travel(ends, tick=False):
        assert publish_tasks.publish_due_advisories.call() == 0
    Credit.objects.filter(report=report, is_reporter=True).update(confirmed_at=confirmed)
    with time_machine.travel(ends + timedelta(minutes=5), tick=False):
        assert publish_tasks.publish_due_advisories.call() == 1


def test_publishing_twice_by_hand_is_refused(draft, report, alice, bob):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)

    with time_machine.travel(ends, tick=False):
        publish_advisory(advisory=draft, actor=alice)
        with pytest.raises(AdvisoryRejected, match="already published"):
            publish_advisory(advisory=draft, actor=bob)


# --- Updates and withdrawal ------------------------------------------------------------------------


def test_an_update_goes_through_review_and_adds_to_the_public_change_log(published, alice, bob, dave):
    fixed = full_content(affected=(replace(RAILS, fixed="7.1.3.2"),))
    edit_advisory(advisory=published, content=fixed, actor=alice, seen_version=published.version)
    assert published.state == AdvisoryState.DRAFT
    assert Advisory.objects.public().filter(pk=published.pk).exists()  # the last published form stays public

    with pytest.raises(PublicationBlocked) as blocked:
        update_published_advisory(advisory=published, summary="Fixed version corrected", actor=alice)
    assert [i.key for i in blocked.value.checklist.failing] == ["approval"]

    submit_for_review(advisory=published, actor=alice)
    approve_advisory(advisory=published, actor=bob)
    update_published_advisory(advisory=published, summary="Fixed version corrected", actor=alice)

    published.refresh_from_db()
    assert published.state == AdvisoryState.PUBLISHED
    assert list(published.changes.values_list("revision", "summary")) == [
        (1, "Initial publication"),
        (2, "Fixed version corrected"),
    ]
    assert published.published["content"]["affected"][0]["fixed"] == "7.1.3.2"
    tracking = json.loads(PublishedDocument.objects.get(kind="csaf").content)["document"]["tracking"]
    assert tracking["version"] == "2"
    assert [r["summary"] for r in tracking["revision_history"]] == [
        "Initial publication",
        "Fixed version corrected",
    ]
    assert [e.data["revision"] for e in _events(Event.ADVISORY_UPDATED)] == [2]


def test_a_corrected_credit_is_republished_without_a_new_review(published, report, alice):
    credit = Credit.objects.get(report=report, is_reporter=True)
    correct_credit(
        credit=credit,
        changes={"appearance": "handle"},
        reason="She asked to appear by handle.",
        actor=alice,
        seen_version=credit.version,
    )
    credit.refresh_from_db()
    with pytest.raises(PublicationBlocked) as blocked:
        update_published_advisory(advisory=published, summary="Credit corrected", actor=alice)
    assert [i.key for i in blocked.value.checklist.failing] == ["credits"]  # she confirms the new line first
    confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)

    update_published_advisory(advisory=published, summary="Credit corrected", actor=alice)

    published.refresh_from_db()
    assert published.published["credits"] == [{"name": "rita", "credit_type": "finder", "link": ""}]
    assert published.changes.count() == 2
    assert published.state == AdvisoryState.PUBLISHED


def test_republishing_what_did_not_change_is_refused(published, alice):
    with pytest.raises(AdvisoryRejected, match="Nothing changed"):
        update_published_advisory(advisory=published, summary="No change really", actor=alice)
    assert published.changes.count() == 1


def test_a_republication_needs_a_public_summary(published, alice):
    with pytest.raises(AdvisoryRejected, match="for the public change log") as refused:
        update_published_advisory(advisory=published, summary="", actor=alice)
    assert refused.value.field == "summary"


def test_only_the_lead_withdraws_and_the_exports_say_so(published, alice, dave):
    with pytest.raises(AdvisoryRejected, match="Only the security lead"):
        withdraw_advisory(advisory=published, actor=alice, reason="Not a vulnerability.")

    withdraw_advisory(
        advisory=published, actor=dave, reason="Not a vulnerability: the setting is off by default."
    )

    published.refresh_from_db()
    assert published.state == AdvisoryState.WITHDRAWN
    assert published.withdrawn_reason == "Not a vulnerability: the setting is off by default."
    assert published.published["withdrawn"] is True
    assert list(published.changes.values_list("revision", "summary"))[-1] == (
        2,
        "Withdrawn: Not a vulnerability: the setting is off by default.",
    )
    osv = json.loads(PublishedDocument.objects.get(kind="osv").content)
    assert "withdrawn" in osv
    csaf = json.loads(PublishedDocument.objects.get(kind="csaf").content)
    assert csaf["document"]["tracking"]["revision_history"][-1]["summary"].startswith("Withdrawn")
    assert [e.data for e in _events(Event.ADVISORY_WITHDRAWN)] == [{"revision": 2, "was_published": True}]
    with pytest.raises(AdvisoryRejected, match="not a published advisory"):
        update_published_advisory(advisory=published, summary="Back again", actor=dave)


def test_a_withdrawn_draft_is_never_published(draft, report, alice, bob, dave):
    ends = embargo_end()
    make_ready(draft, report, author=alice, reviewer=bob, ends_at=ends)
    grant_access(report=report, user=dave, actor=alice)
    withdraw_advisory(advisory=draft, actor=dave, reason=f"Merged into the upload advisory {CANARY}")

    with time_machine.travel(ends, tick=False):
        assert publish_tasks.publish_due_advisories.call() == 0
    assert PublishedDocument.objects.count() == 0
    abandoned = Advisory.objects.get(pk=draft.pk)
    assert abandoned.published is None
    # Never public, so its reason is sealed like the draft, not kept in the public column.
    assert abandoned.withdrawn_reason == ""
    assert abandoned.abandoned_reason is not None
    assert leaks(CANARY, every_stored_value()) == []


def test_the_publication_task_runs_every_minute():
    job = registered_jobs()[publish_tasks.publish_due_advisories.module_path]

    assert job.every == timedelta(minutes=1)
