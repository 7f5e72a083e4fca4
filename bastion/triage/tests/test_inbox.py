"""The inbox: metadata only, newest first, filtered by status, in the staff member's time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report, Status
from bastion.reports.services import change_status, request_deletion
from bastion.reports.tests.conftest import CANARY
from bastion.triage.templatetags.triage import age

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

    assert response.status_code == 200
    assert report.tracking_id not in response.content.decode()
    assert "Fix the filters" in response.content.decode()


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


def test_it_paginates_fifty_a_page(client_as, alice, submit, settings):
    for _ in range(51):
        submit()

    first = client_as(alice).get(INBOX)
    second = client_as(alice).get(INBOX, {"page": 2})

    assert len(first.context["page"].object_list) == 50
    assert len(second.context["page"].object_list) == 1


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
