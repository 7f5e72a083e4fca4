"""Downgrade to a public bug: the report closes, the reporter is told, the export has no reporter in it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report, Status, TimelineKind


def url(name: str, report: Report) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id])


def test_a_hand_over_closes_the_report_and_the_export_leaves_the_reporter_out(client_as, alice, submit):
    report = submit(
        description="Found by Rita Researcher (rita@researcher.example, aka RITA). /export leaks.",
    ).report
    client = client_as(alice)

    response = client.post(url("public_bug", report), {"version": 1, "reporter_message": "Filed as a bug."})

    assert response.status_code == 303
    report.refresh_from_db()
    assert report.status == Status.INFORMATIVE
    assert report.public_bug_at is not None
    assert report.timeline.filter(kind=TimelineKind.PUBLIC_BUG, public=True).exists()

    export = client.get(url("public_bug_export", report))
    text = export.content.decode()
    assert export["Content-Disposition"].startswith("attachment")
    assert "/export leaks." in text
    assert "Found by [reporter] ([reporter], aka [reporter])" in text
    assert "rita" not in text.lower()
    assert AuditEvent.objects.filter(event=Event.REPORT_EXPORTED_PUBLIC).count() == 2


def test_a_report_that_cannot_close_as_informative_is_refused(client_as, alice, report):
    from bastion.reports.services import change_status

    change_status(report=report, to=Status.SPAM, actor=alice)

    response = client_as(alice).post(url("public_bug", report), {"version": report.version})

    assert response.status_code == 400
    assert "cannot move from spam to informative" in response.content.decode()
    report.refresh_from_db()
    assert report.public_bug_at is None


def test_the_export_drops_a_part_of_the_name_the_reporter_signed_with(client_as, alice, submit):
    report = submit(
        reporter_name="Margarethe Okonkwo",
        reporter_handle="mokonkwo",
        impact="Found by Margarethe -- M. Okonkwo. Annotations leak.",
    ).report
    client = client_as(alice)
    client.post(url("public_bug", report), {"version": 1})

    text = client.get(url("public_bug_export", report)).content.decode()

    assert "Found by [reporter] -- M. [reporter]. Annotations leak." in text
    assert "okonkwo" not in text.lower()


@pytest.mark.parametrize("name", ["public_bug", "public_bug_export"])
def test_it_rejects_viewers(client_as, charlie, report, name):
    client = client_as(charlie)
    response = (
        client.post(url(name, report), {"version": 1})
        if name == "public_bug"
        else client.get(url(name, report))
    )

    assert response.status_code == 403
