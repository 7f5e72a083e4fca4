"""Finding duplicate candidates (in memory, with reasons, audited once) and marking a duplicate."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected, StaleEdit, TransitionRefused
from bastion.reports.models import Asset, Program, Report, Reporter, TimelineKind, Visibility
from bastion.reports.sealing import open_field
from bastion.reports.services.duplicates import (
    duplicate_pool,
    duplicates_of,
    find_duplicate_candidates,
    mark_duplicate,
)
from bastion.reports.workflow import Status

INVOICES = {
    "title": "IDOR in the invoice export lets any tenant read invoices",
    "description": "GET https://billing.example.com/api/v2/invoices/export?tenant=2 returns another "
    "tenant's invoices: the tenant_id parameter is never checked against the session.",
    "steps": "1. Sign in as tenant 1\n2. Change tenant_id in the request",
    "impact": "Read every customer's invoices.",
}
INVOICES_AGAIN = {
    "title": "Other tenants' invoices through the export endpoint",
    "description": "Calling /api/v2/invoices/export with tenant=7 gives me the invoices of tenant 7; "
    "the tenant_id is trusted as sent.",
    "steps": "Change tenant_id.",
    "impact": "Invoices of all customers leak.",
}
XSS = {
    "title": "Stored XSS in the profile display name",
    "description": "A display name of <script>alert(1)</script> runs in every visitor's browser on "
    "/profile/rita.",
    "steps": "Set the display name, open the profile.",
    "impact": "Session theft.",
}


@pytest.fixture
def asset(db) -> Asset:
    return Asset.objects.create(name="billing-api", program=Program.objects.default())


@pytest.fixture
def other_asset(db) -> Asset:
    return Asset.objects.create(name="mobile-app", program=Program.objects.default())


def on(report: Report, asset: Asset | None, **fields: object) -> Report:
    """File ``report`` under ``asset`` (what the classify service does), with any other columns."""
    Report.objects.filter(pk=report.pk).update(asset=asset, **fields)
    report.refresh_from_db()
    return report


@pytest.fixture
def trio(submit, asset):
    """The invoices report, the same issue reported again later, and an unrelated XSS; one asset."""
    original = on(submit(**INVOICES).report, asset)
    unrelated = on(submit(**XSS).report, asset)
    duplicate = on(submit(**INVOICES_AGAIN).report, asset)
    return original, duplicate, unrelated


# --- Finding --------------------------------------------------------------------------------------


def test_it_ranks_the_same_issue_first_and_says_why(trio, alice):
    original, duplicate, unrelated = trio

    candidates = find_duplicate_candidates(report=duplicate, actor=alice)

    best = candidates[0]
    assert best.report == original
    assert best.came_first
    assert "/api/v2/invoices/export" in " ".join(best.shared_endpoints)
    assert "tenant_id" in best.shared_terms
    assert best.same_asset
    assert best.title == INVOICES["title"]
    assert all(c.score <= best.score for c in candidates)
    assert unrelated not in [c.report for c in candidates[:1]]


def test_a_report_outside_the_searchers_scope_is_never_opened_nor_shown(trio, alice):
    original, duplicate, _ = trio

    scope = Report.objects.exclude(pk=original.pk)
    candidates = find_duplicate_candidates(report=duplicate, actor=alice, within=scope)

    assert original not in [c.report for c in candidates]


def test_a_shared_url_matches_a_bare_path_and_is_shown_with_its_host(trio, alice):
    original, duplicate, _ = trio

    (best, *_) = find_duplicate_candidates(report=original, actor=alice)

    assert best.report == duplicate
    assert best.shared_endpoints == ("billing.example.com/api/v2/invoices/export",)
    assert not best.came_first  # the later report is the duplicate, not the original


def test_same_cwe_is_a_reason(trio, alice):
    original, duplicate, _ = trio
    on(original, original.asset, cwe_id=639)
    on(duplicate, duplicate.asset, cwe_id=639)

    (best, *_) = find_duplicate_candidates(report=duplicate, actor=alice)

    assert best.report == original
    assert best.same_cwe


def test_a_report_sharing_nothing_is_no_candidate(submit, alice):
    invoices = submit(**INVOICES).report
    submit(
        title="Weak TLS ciphers on the mail relay",
        description="Port 465 offers RC4.",
        steps="nmap --script ssl-enum-ciphers",
        impact="Downgrade.",
    )

    assert find_duplicate_candidates(report=invoices, actor=alice) == []


def test_the_pool_keeps_to_the_reports_asset(submit, alice, asset, other_asset):
    mine = on(submit(**INVOICES_AGAIN).report, asset)
    same = on(submit(**INVOICES).report, asset)
    elsewhere = on(submit(**INVOICES).report, other_asset)
    unfiled = submit(**INVOICES).report

    assert set(duplicate_pool(mine)) == {same}
    assert [c.report for c in find_duplicate_candidates(report=mine, actor=alice)] == [same]
    # A report on no asset is compared with every report, whatever its asset.
    assert set(duplicate_pool(unfiled)) == {mine, same, elsewhere}


def test_the_pool_leaves_out_old_closed_reports_and_marked_duplicates(submit, alice, asset):
    mine = on(submit(**INVOICES_AGAIN).report, asset)
    now = timezone.now()
    long_closed = on(
        submit(**INVOICES).report, asset, status=Status.RESOLVED, closed_at=now - timedelta(days=91)
    )
    recently_closed = on(
        submit(**INVOICES).report, asset, status=Status.RESOLVED, closed_at=now - timedelta(days=5)
    )
    open_one = on(submit(**INVOICES).report, asset)
    marked = on(submit(**INVOICES).report, asset, status=Status.DUPLICATE, duplicate_of=open_one)

    pool = set(duplicate_pool(mine))

    assert pool == {recently_closed, open_one}
    assert long_closed not in pool
    assert marked not in pool
    assert mine not in pool


def test_the_search_is_one_audit_row_with_tracking_ids_and_no_plaintext(trio, alice):
    _, duplicate, _ = trio
    before = AuditEvent.objects.count()

    candidates = find_duplicate_candidates(report=duplicate, actor=alice, ip="192.0.2.7")

    assert AuditEvent.objects.count() == before + 1
    row = AuditEvent.objects.get(event=Event.DUPLICATES_SEARCHED)
    assert row.actor_id == alice.pk
    assert row.target_id == str(duplicate.pk)
    assert row.data == {"pool": 2, "candidates": [c.report.tracking_id for c in candidates]}
    stored = json.dumps(row.data)
    for word in ("tenant", "invoices", "export", "billing", "XSS"):
        assert word not in stored


def test_it_rejects_viewers(trio, charlie):
    _, duplicate, _ = trio

    with pytest.raises(PermissionDenied):
        find_duplicate_candidates(report=duplicate, actor=charlie)
    with pytest.raises(PermissionDenied):
        mark_duplicate(report=duplicate, original=trio[0], actor=charlie)
    assert not AuditEvent.objects.filter(event=Event.DUPLICATES_SEARCHED).exists()


# --- Marking --------------------------------------------------------------------------------------


@pytest.fixture
def pair(submit):
    """The original (received 5 March 2026, 13:03 UTC) and a later duplicate from a Paris reporter."""
    with time_machine.travel(datetime(2026, 3, 5, 13, 3, tzinfo=UTC), tick=False):
        original = submit(**INVOICES).report
    with time_machine.travel(datetime(2026, 3, 9, 8, 0, tzinfo=UTC), tick=False):
        duplicate = submit(**INVOICES_AGAIN).report
    Reporter.objects.filter(pk=duplicate.reporter_id).update(time_zone="Europe/Paris")
    duplicate.refresh_from_db()
    return original, duplicate


def public_message(report: Report) -> str:
    message = report.messages.get(visibility=Visibility.PUBLIC)
    return open_field(message, "body", key=report.data_key_plain()) or ""


def test_marking_links_closes_and_tells_the_reporter_which_came_first_and_when(
    pair, alice, django_capture_on_commit_callbacks
):
    original, duplicate = pair
    version = duplicate.version

    with django_capture_on_commit_callbacks(execute=True):
        done = mark_duplicate(
            report=duplicate,
            original=original,
            actor=alice,
            reporter_message="Thanks, rita: someone beat you to it.",
            share_credit=True,
            expected_version=version,
        )

    duplicate.refresh_from_db()
    assert done.original == original == done.chosen
    assert duplicate.status == Status.DUPLICATE
    assert duplicate.duplicate_of == original
    assert duplicate.duplicate_credit
    assert duplicate.version == version + 1  # one edit, one bump
    text = public_message(duplicate)
    assert text.startswith("Thanks, rita: someone beat you to it.")
    assert original.tracking_id in text
    assert "5 March 2026, 14:03 CET (Europe/Paris)" in text  # the reporter's time zone
    assert "share the credit" in text
    assert original.receipt.statement.strip() in text
    assert "gpg --verify" in text
    entry = duplicate.timeline.get(kind=TimelineKind.MARKED_DUPLICATE)
    assert entry.public
    assert entry.data["original"] == original.tracking_id
    assert datetime.fromisoformat(entry.data["original_received_at"]) == original.received_at
    audit = AuditEvent.objects.get(event=Event.REPORT_MARKED_DUPLICATE)
    assert audit.data == {"original": original.tracking_id, "credit_shared": True}
    assert list(duplicates_of(original)) == [duplicate]


def test_without_a_message_it_starts_from_a_default_one(pair, alice):
    original, duplicate = pair

    mark_duplicate(report=duplicate, original=original, actor=alice)

    text = public_message(duplicate)
    assert text.startswith(f"Thank you for your report {duplicate.tracking_id}.")
    assert "share the credit" not in text


def test_it_refuses_a_report_as_its_own_duplicate(pair, alice):
    _, duplicate = pair

    with pytest.raises(ReportRejected, match="cannot be a duplicate of itself"):
        mark_duplicate(report=duplicate, original=duplicate, actor=alice)


def test_it_refuses_an_original_received_after_the_report_and_says_which_came_first(pair, alice):
    original, duplicate = pair

    with pytest.raises(ReportRejected) as refused:
        mark_duplicate(report=original, original=duplicate, actor=alice)

    message = " ".join(refused.value.messages)
    assert f"{duplicate.tracking_id} was received at 9 March 2026, 08:00 UTC" in message
    assert f"mark {duplicate.tracking_id} as a duplicate of {original.tracking_id} instead" in message
    original.refresh_from_db()
    assert original.status == Status.NEW
    assert original.duplicate_of is None


def test_it_refuses_a_stale_form_and_changes_nothing(pair, alice):
    original, duplicate = pair

    with pytest.raises(StaleEdit):
        mark_duplicate(
            report=duplicate, original=original, actor=alice, expected_version=duplicate.version - 1
        )

    duplicate.refresh_from_db()
    assert duplicate.status == Status.NEW
    assert duplicate.duplicate_of is None
    assert not duplicate.timeline.filter(kind=TimelineKind.MARKED_DUPLICATE).exists()


def test_it_refuses_a_move_the_workflow_does_not_allow(pair, alice):
    original, duplicate = pair
    Report.objects.filter(pk=duplicate.pk).update(status=Status.RESOLVED)
    duplicate.refresh_from_db()

    with pytest.raises(TransitionRefused):
        mark_duplicate(report=duplicate, original=original, actor=alice)

    duplicate.refresh_from_db()
    assert duplicate.duplicate_of is None
    assert not AuditEvent.objects.filter(event=Event.REPORT_MARKED_DUPLICATE).exists()


def test_a_duplicate_of_a_duplicate_points_at_the_first_original(pair, submit, alice):
    original, duplicate = pair
    mark_duplicate(report=duplicate, original=original, actor=alice)
    third = submit(**INVOICES).report

    done = mark_duplicate(report=third, original=duplicate, actor=alice)

    third.refresh_from_db()
    assert third.duplicate_of == original
    assert (done.original, done.chosen) == (original, duplicate)
    audit = AuditEvent.objects.get(event=Event.REPORT_MARKED_DUPLICATE, target_id=str(third.pk))
    assert audit.data["chosen"] == duplicate.tracking_id


def test_it_refuses_a_cycle(pair, alice):
    original, duplicate = pair
    mark_duplicate(report=duplicate, original=original, actor=alice)
    Report.objects.filter(pk=original.pk).update(status=Status.TRIAGED)
    original.refresh_from_db()

    with pytest.raises(ReportRejected, match="is itself marked a duplicate of this report"):
        mark_duplicate(report=original, original=duplicate, actor=alice)


def test_it_refuses_to_mark_a_report_that_has_duplicates_of_its_own(pair, submit, alice):
    original, duplicate = pair
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        earliest = submit(**INVOICES).report
    mark_duplicate(report=duplicate, original=original, actor=alice)

    with pytest.raises(
        ReportRejected, match=f"{duplicate.tracking_id} is marked as a duplicate of this report"
    ):
        mark_duplicate(report=original, original=earliest, actor=alice)
