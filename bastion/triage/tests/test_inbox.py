"""The inbox page: metadata only, filtered, paged by cursor, searched, worked in bulk and by keyboard."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Asset, Program, Report, Status
from bastion.reports.services import change_status, request_deletion
from bastion.reports.tests.conftest import CANARY
from bastion.triage.filters import CONTENT_SEARCH_MAX
from bastion.triage.templatetags.triage import age
from bastion.triage.tests.test_inbox_filters import quick_reports

INBOX = reverse("triage:inbox")


def test_it_lists_reports_newest_first_without_opening_any(client_as, alice, submit):
    older = submit(title="older").report
    newer = submit(title="newer").report
    Report.objects.filter(pk=older.pk).update(received_at=timezone.now() - timedelta(days=2))

    response = client_as(alice).get(INBOX)

    html = response.content.decode()
    assert html.index(newer.tracking_id) < html.index(older.tracking_id)
    # Titles are sealed and the list opens nothing: no plaintext, no read recorded.
    assert CANARY not in html
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_filters_by_status(client_as, alice, submit):
    fresh = submit().report
    triaged = submit().report
    change_status(report=triaged, to=Status.TRIAGED, actor=alice)

    html = client_as(alice).get(INBOX, {"status": "triaged"}).content.decode()

    assert triaged.tracking_id in html
    assert fresh.tracking_id not in html


def test_an_unknown_status_filter_shows_an_error_and_no_list(client_as, alice, report):
    response = client_as(alice).get(INBOX, {"status": "nonsense"})

    assert response.status_code == 400
    html = response.content.decode()
    assert report.tracking_id not in html
    assert "Fix the filters" in html
    assert "Unknown status “nonsense”" in html


def test_it_marks_reports_whose_reporter_asked_for_deletion(client_as, alice, report):
    request_deletion(report=report, actor=alice)

    assert "Deletion requested" in client_as(alice).get(INBOX).content.decode()


def test_it_shows_when_a_report_came_in_in_the_staff_members_time_zone(client_as, alice, report):
    received = timezone.now().replace(year=2026, month=1, day=15, hour=12, minute=0)
    Report.objects.filter(pk=report.pk).update(received_at=received)
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])

    html = client_as(alice).get(INBOX).content.decode()

    assert "2026-01-15 21:00" in html


def test_it_pages_fifty_at_a_time_by_cursor(client_as, alice):
    quick_reports(51)
    client = client_as(alice)

    first = client.get(INBOX)
    older = first.context["links"]["older"]
    second = client.get(older)

    assert len(first.context["page"].object_list) == 50
    assert "after=" in older
    assert len(second.context["page"].object_list) == 1
    assert "before=" in second.context["links"]["newer"]
    assert "older" not in second.context["links"]


def test_a_page_counts_nothing_and_skips_nothing_by_offset(client_as, alice):
    quick_reports(60)
    client = client_as(alice)
    older = client.get(INBOX).context["links"]["older"]

    with CaptureQueriesContext(connection) as queries:
        client.get(older)

    statements = [query["sql"].upper() for query in queries.captured_queries]
    assert not any(" OFFSET " in sql for sql in statements)
    assert not any(sql.startswith("SELECT COUNT(*)") and '"REPORTS_REPORT"' in sql for sql in statements)


@pytest.mark.parametrize(
    ("ago", "shown"),
    [(timedelta(minutes=5), "5 min"), (timedelta(hours=3), "3 h"), (timedelta(hours=30), "30 h"),
     (timedelta(days=2, hours=5), "2 d")],
)  # fmt: skip
def test_ages_read_in_minutes_hours_then_days(ago, shown):
    now = timezone.now()
    assert age(now - ago, now) == shown


def test_the_dashboard_counts_the_inbox_for_triagers(client_as, alice, report):
    html = client_as(alice).get(reverse("home")).content.decode()

    assert "<strong>1</strong> new" in html
    assert INBOX in html


def test_the_dashboard_shows_viewers_no_inbox(client_as, charlie, report):
    html = client_as(charlie).get(reverse("home")).content.decode()

    assert INBOX not in html


def test_it_shows_severity_score_assignee_asset_labels_and_the_next_due_time(client_as, alice, bob):
    asset = Asset.objects.create(name="pay.example.com", program=Program.objects.default())
    due = timezone.now().replace(year=2030, month=1, day=15, hour=12, minute=0)
    quick_reports(
        1,
        severity="high",
        cvss_score=Decimal("8.2"),
        assignee=bob,
        asset=asset,
        next_due_at=due,
        labels=("sso",),
    )
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])

    html = client_as(alice).get(INBOX).content.decode()

    for shown in ("High", "8.2", bob.full_name, "pay.example.com", "sso", "2030-01-15 21:00"):
        assert shown in html
    assert '"badge badge-danger">Overdue' not in html


def test_it_marks_overdue_reports_and_missed_targets(client_as, alice):
    late = timezone.now() - timedelta(hours=2)
    quick_reports(1, next_due_at=late, breached_at=late)

    html = client_as(alice).get(INBOX).content.decode()

    assert '"badge badge-danger">Overdue' in html
    assert '"badge badge-warn">Target missed' in html


def test_the_clock_filter_lists_the_soonest_due_first(client_as, alice):
    now = timezone.now()
    later = quick_reports(1, next_due_at=now + timedelta(hours=10))[0]
    sooner = quick_reports(1, next_due_at=now + timedelta(hours=1))[0]

    html = client_as(alice).get(INBOX, {"clock": "due_soon"}).content.decode()

    assert html.index(sooner.tracking_id) < html.index(later.tracking_id)
    assert "Soonest due first" in html


def test_an_exact_tracking_id_in_the_search_box_opens_the_report(client_as, alice):
    report = quick_reports(1)[0]

    response = client_as(alice).get(INBOX, {"q": report.tracking_id.lower()})

    assert response.status_code == 302
    assert response["Location"] == reverse("triage:report", args=[report.tracking_id])


def test_content_search_is_a_post_so_its_words_stay_out_of_urls(client_as, alice, submit):
    wanted = submit(title="Invoice export leaks", description="A marmalade token in the export.").report
    other = submit(title="Login throttling", description="No rate limit.").report
    client = client_as(alice)

    ignored = client.get(INBOX, {"text": "marmalade"}).content.decode()
    searched = client.post(f"{INBOX}?status=new", {"text": "marmalade"})

    assert other.tracking_id in ignored  # a GET never searches inside
    html = searched.content.decode()
    assert wanted.tracking_id in html
    assert other.tracking_id not in html
    assert "Searched inside 2 reports" in html
    assert AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).count() == 1
    assert CANARY not in html


def test_content_search_over_too_many_reports_says_how_to_narrow_it(client_as, alice):
    quick_reports(CONTENT_SEARCH_MAX + 1)

    response = client_as(alice).post(INBOX, {"text": "anything"})

    assert response.status_code == 400
    assert "Narrow them first" in response.content.decode()


def test_it_is_worked_by_keyboard_from_a_static_script_and_without_one_too(client_as, alice):
    quick_reports(2)

    html = client_as(alice).get(INBOX).content.decode()

    assert re.search(r'<script src="[^"]*triage/inbox\.js" defer></script>', html)
    assert len(re.findall(r"<script", html)) == 1  # no inline script (strict CSP)
    assert 'class="inbox-row" tabindex="-1"' in html
    assert "Keyboard shortcuts" in html  # the list is a plain <details> without the script


def test_bulk_close_as_spam_says_what_became_of_each_report(client_as, alice, submit):
    fresh, triaged = submit().report, submit().report
    change_status(report=triaged, to=Status.TRIAGED, actor=alice)
    triaged.refresh_from_db()
    chosen = [f"{r.tracking_id}@{r.version}" for r in (fresh, triaged)] + ["BST-0000000000@1"]

    response = client_as(alice).post(
        reverse("triage:bulk"),
        {
            "action": "spam",
            "report": chosen,
            "reporter_message": "{tracking_id} is spam.",
            "query": "status=new",
        },
        follow=True,
    )

    said = [str(m) for m in response.context["messages"]]
    assert response.redirect_chain[-1][0] == f"{INBOX}?status=new"
    assert any(m.startswith(f"1 report closed as spam: {fresh.tracking_id}") for m in said)
    assert any(m.startswith(f"{triaged.tracking_id} was not changed: A report cannot move") for m in said)
    assert any(m.startswith("BST-0000000000: there is no such report") for m in said)
    fresh.refresh_from_db()
    assert fresh.status == Status.SPAM
    assert fresh.messages.filter(visibility="public", author=alice).exists()


def test_bulk_assign_and_label(client_as, alice, bob):
    reports = quick_reports(2)
    chosen = [r.tracking_id for r in reports]
    client = client_as(alice)

    client.post(reverse("triage:bulk"), {"action": "assign", "assignee": bob.pk, "report": chosen})
    client.post(reverse("triage:bulk"), {"action": "label", "label": "needs-poc", "report": chosen})

    for report in reports:
        report.refresh_from_db()
        assert report.assignee == bob
        assert list(report.labels.values_list("name", flat=True)) == ["needs-poc"]


@pytest.mark.parametrize("suffix", ["@²", "@1x", "@-1", "@" + "9" * 11, ""])
def test_bulk_refuses_a_selection_it_cannot_read_and_changes_nothing(client_as, alice, bob, suffix):
    kept = quick_reports(1)[0]
    odd = f"{kept.tracking_id}{suffix}" if suffix else "not-a-tracking-id"

    response = client_as(alice).post(
        reverse("triage:bulk"),
        {"action": "assign", "assignee": bob.pk, "report": [f"{kept.tracking_id}@1", odd]},
        follow=True,
    )

    said = [str(m) for m in response.context["messages"]]
    assert response.status_code == 200
    assert said == [
        f"Nothing was changed: these selections are not rows of the list (“{odd[:40]}”). "
        "Reload the inbox and select the reports again."
    ]
    kept.refresh_from_db()
    assert kept.assignee is None


def test_a_day_out_of_range_is_a_400_saying_which_days_work(client_as, alice):
    alice.time_zone = "Asia/Tokyo"
    alice.save(update_fields=["time_zone"])

    for query in ({"received_before": "9999-12-31"}, {"received_after": "0001-01-01"}):
        response = client_as(alice).get(INBOX, query)

        assert response.status_code == 400
        assert "Choose a day from 1970-01-01 to 9999-12-30." in response.content.decode()


def test_bulk_needs_a_selection(client_as, alice):
    response = client_as(alice).post(reverse("triage:bulk"), {"action": "spam"}, follow=True)

    assert "Select at least one report first." in [str(m) for m in response.context["messages"]]


STAFF_ONLY = [("get", INBOX), ("post", INBOX), ("post", reverse("triage:bulk"))]


@pytest.mark.parametrize(("method", "url"), STAFF_ONLY)
def test_it_rejects_anonymous_visitors(client, method, url, report):
    response = getattr(client, method)(url, {"text": "x", "action": "spam", "report": report.tracking_id})

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]
    report.refresh_from_db()
    assert report.status == Status.NEW


@pytest.mark.parametrize(("method", "url"), STAFF_ONLY)
def test_it_rejects_viewers(client_as, charlie, method, url, report):
    data = {"text": "x", "action": "spam", "report": report.tracking_id}

    response = getattr(client_as(charlie), method)(url, data)

    assert response.status_code == 403
    report.refresh_from_db()
    assert report.status == Status.NEW
    assert not AuditEvent.objects.filter(event=Event.REPORTS_SEARCHED).exists()
