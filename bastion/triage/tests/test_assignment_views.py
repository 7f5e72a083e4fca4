"""The assignment panel, the rota page and the canned responses page."""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report
from bastion.triage.models import CannedResponse


def assign_url(report: Report) -> str:
    return reverse("triage:assign", args=[report.tracking_id])


def test_assign_to_me_takes_the_report(client_as, alice, report):
    response = client_as(alice).post(assign_url(report), {"version": 1, "assign_to_me": "1"})

    assert response.status_code == 303
    assert Report.objects.get(pk=report.pk).assignee == alice


def test_the_page_names_the_assignee_and_their_backup(client_as, alice, bob, report):
    alice.backup = bob
    alice.save()
    client_as(alice).post(assign_url(report), {"version": 1, "assignee": alice.pk})

    page = client_as(bob).get(reverse("triage:report", args=[report.tracking_id])).content.decode()

    assert "With <strong>Alice Triager</strong>; backup Bob Triager." in page


def test_a_stale_assignment_is_shown_and_changes_nothing(client_as, alice, bob, report):
    client_as(alice).post(assign_url(report), {"version": 1, "assignee": alice.pk})

    response = client_as(bob).post(assign_url(report), {"version": 1, "assignee": bob.pk})

    assert response.status_code == 409
    assert "Someone else changed this report" in response.content.decode()
    assert Report.objects.get(pk=report.pk).assignee == alice


@pytest.mark.parametrize("name", ["assign", "rota", "canned"])
def test_it_rejects_viewers(client_as, charlie, report, name):
    path = assign_url(report) if name == "assign" else reverse(f"triage:{name}")
    response = client_as(charlie).post(path, {"version": 1})

    assert response.status_code == 403


def test_staff_set_their_own_rota_but_not_someone_elses(client_as, alice, bob):
    client = client_as(alice)
    page = client.get(reverse("triage:rota")).content.decode()
    assert f'name="m{alice.pk}-on_duty"' in page
    assert f'name="m{bob.pk}-on_duty"' not in page  # alice is not an admin

    response = client.post(
        reverse("triage:rota"), {f"m{alice.pk}-on_duty": "on", f"m{alice.pk}-backup": bob.pk}
    )

    assert response.status_code == 303
    alice.refresh_from_db()
    assert alice.on_duty
    assert alice.backup == bob
    assert AuditEvent.objects.filter(event=Event.ROTA_UPDATED).count() == 1


def test_an_admin_sets_anyones_rota(client_as, alice, dave):
    response = client_as(dave).post(reverse("triage:rota"), {f"m{alice.pk}-on_duty": "on"})

    assert response.status_code == 303
    alice.refresh_from_db()
    assert alice.on_duty


def test_nobody_backs_up_themselves(client_as, alice):
    response = client_as(alice).post(reverse("triage:rota"), {f"m{alice.pk}-backup": alice.pk})

    assert response.status_code == 400  # not offered: the form refuses the choice
    alice.refresh_from_db()
    assert alice.backup is None


def test_a_canned_response_made_default_replaces_the_old_default(client_as, alice):
    old = CannedResponse.objects.get(status="triaged", is_default=True)
    form = {
        "status": "triaged",
        "title": "Confirmed (short)",
        "body": "Confirmed: {tracking_id}.",
        "make_default": "on",
    }

    response = client_as(alice).post(reverse("triage:canned"), form)

    assert response.status_code == 303
    assert CannedResponse.objects.get(status="triaged", is_default=True).title == "Confirmed (short)"
    old.refresh_from_db()
    assert not old.is_default
    assert AuditEvent.objects.filter(event=Event.CANNED_RESPONSE_SAVED).count() == 1


def test_a_canned_response_can_be_edited_and_deleted(client_as, alice):
    canned = CannedResponse.objects.get(status="spam")
    client = client_as(alice)

    edit = {"status": "spam", "title": "Spam", "body": "Closed.", "make_default": "on"}
    assert client.post(reverse("triage:canned_edit", args=[canned.pk]), edit).status_code == 303
    assert CannedResponse.objects.get(pk=canned.pk).body == "Closed."
    assert client.post(reverse("triage:canned_delete", args=[canned.pk])).status_code == 303
    assert not CannedResponse.objects.filter(pk=canned.pk).exists()


def test_a_canned_response_without_a_title_is_refused(client_as, alice):
    response = client_as(alice).post(reverse("triage:canned"), {"status": "spam", "body": "x"})

    assert response.status_code == 400
    assert "This field is required" in response.content.decode()
