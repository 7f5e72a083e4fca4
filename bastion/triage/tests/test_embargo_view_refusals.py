"""The embargo panel's actions when they cannot go through: the status, the words shown, nothing changed.

The happy paths and the authorization matrix are in ``test_embargo_views.py``; here each action is
refused for a reason the person at the form can fix (a missing field, a stale page, a grant nobody
would hold), and the embargo, its parties and its grants stay as they were.
"""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bastion.reports.access import may_see
from bastion.reports.models import AccessGrant, Embargo, EmbargoParty, Report
from bastion.reports.services.embargo import grant_access, lift_embargo
from bastion.triage.tests.conftest import END, report_url


def shown(response) -> str:
    """The page and the flash messages it carries."""
    notes = " ".join(str(m) for m in get_messages(response.wsgi_request))
    return f"{response.content.decode()} {notes}"


def unchanged(report: Report) -> tuple[int, datetime, int]:
    embargo = Embargo.objects.get(report=report)
    return embargo.version, embargo.ends_at, embargo.parties.count()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        (
            "embargo_move",
            {"ends_at": "2026-06-20T09:00", "time_zone": "UTC", "reason": "Later", "version": "1"},
        ),
        ("embargo_lift", {"reason": "Fix shipped", "version": "1"}),
        ("embargo_party_add", {"kind": "upstream", "label": "Rails", "email": ""}),
    ],
)
def test_an_action_on_an_embargo_that_does_not_exist_is_a_404(client_as, alice, fresh_report, name, data):
    assert client_as(alice).post(report_url(name, fresh_report), data).status_code == 404
    assert not Embargo.objects.exists()


def test_a_move_without_a_reason_is_refused_and_the_end_stays(client_as, alice, embargoed_report):
    data = {"ends_at": "2026-06-20T09:00", "time_zone": "UTC", "reason": "", "version": "1"}

    response = client_as(alice).post(report_url("embargo_move", embargoed_report), data)

    assert response.status_code == 400
    assert "The embargo was not changed: see the embargo panel." in shown(response)
    assert unchanged(embargoed_report) == (1, END, 1)


def test_a_lift_from_a_stale_page_is_a_409_and_the_embargo_runs_on(client_as, alice, bob, embargoed_report):
    client = client_as(alice)
    moved = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}
    assert client.post(report_url("embargo_move", embargoed_report), moved).status_code == 303

    response = client.post(
        report_url("embargo_lift", embargoed_report), {"reason": "Fix shipped", "version": "1"}
    )

    assert response.status_code == 409
    assert "Nothing was saved" in shown(response)
    assert Embargo.objects.get(report=embargoed_report).version == 2
    assert not may_see(bob, embargoed_report)


def test_a_party_without_a_name_is_refused(client_as, alice, embargoed_report):
    response = client_as(alice).post(
        report_url("embargo_party_add", embargoed_report),
        {"kind": "upstream", "label": "", "email": "sec@rails.example"},
    )

    assert response.status_code == 400
    assert 'value="sec@rails.example"' in response.content.decode()  # what was typed is kept
    assert unchanged(embargoed_report) == (1, END, 1)


def test_an_acknowledgement_of_an_end_that_moved_since_is_a_409(client_as, alice, embargoed_report):
    client = client_as(alice)
    moved = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}
    assert client.post(report_url("embargo_move", embargoed_report), moved).status_code == 303
    reporter = EmbargoParty.objects.get(embargo__report=embargoed_report)

    response = client.post(
        report_url("embargo_acknowledge", embargoed_report, reporter.uid), {"version": "1"}
    )

    assert response.status_code == 409
    reporter.refresh_from_db()
    assert reporter.acknowledged_at is None


def test_an_acknowledgement_after_the_lift_is_refused(client_as, alice, embargoed_report):
    reporter = EmbargoParty.objects.get(embargo__report=embargoed_report)
    lift_embargo(embargo=Embargo.objects.get(report=embargoed_report), actor=alice, reason="Fix shipped")

    response = client_as(alice).post(
        report_url("embargo_acknowledge", embargoed_report, reporter.uid), {"version": "junk"}
    )

    assert response.status_code == 400
    reporter.refresh_from_db()
    assert reporter.acknowledged_at is None


def test_a_viewer_cannot_be_granted_and_the_form_says_whom_to_choose(
    client_as, alice, charlie, embargoed_report
):
    response = client_as(alice).post(report_url("embargo_grant", embargoed_report), {"user": charlie.pk})

    assert response.status_code == 400
    assert "Choose an active triager or admin who is not granted yet." in response.content.decode()
    assert list(AccessGrant.objects.values_list("user", flat=True)) == [alice.pk]


def test_revoking_without_choosing_anyone_asks_whom(client_as, alice, embargoed_report):
    response = client_as(alice).post(report_url("embargo_revoke", embargoed_report), {"user": "alice"})

    assert response.status_code == 400
    assert "Choose whose access to revoke." in shown(response)


def test_the_last_person_granted_cannot_be_revoked_while_the_embargo_runs(client_as, alice, embargoed_report):
    response = client_as(alice).post(report_url("embargo_revoke", embargoed_report), {"user": alice.pk})

    assert response.status_code == 400
    assert "is the last person granted on this embargoed report" in shown(response)
    assert may_see(alice, embargoed_report)


def test_revoking_someone_who_holds_no_access_says_so(client_as, alice, bob, embargoed_report):
    response = client_as(alice).post(report_url("embargo_revoke", embargoed_report), {"user": bob.pk})

    assert response.status_code == 400
    assert "holds no access to this report" in shown(response)


def test_revoking_ones_own_access_leads_back_to_the_inbox(client_as, alice, bob, embargoed_report):
    grant_access(report=embargoed_report, user=bob, actor=alice)

    response = client_as(alice).post(report_url("embargo_revoke", embargoed_report), {"user": alice.pk})

    assert response.status_code == 303
    assert response["Location"] == reverse("triage:inbox")
    assert not may_see(alice, embargoed_report)
    assert may_see(bob, embargoed_report)


def test_breaking_the_glass_without_a_reason_is_refused(client_as, bob, embargoed_report):
    response = client_as(bob).post(report_url("break_glass", embargoed_report), {"reason": ""})

    assert response.status_code == 400
    assert "Give the reason: breaking the glass always has one." in response.content.decode()
    assert not may_see(bob, embargoed_report)
