"""The embargo panel's actions when they cannot go through: the status, the words shown, nothing changed.

The happy paths and the authorization matrix are in ``test_embargo_views.py``; here each action is
refused for a reason the person at the form can fix (a missing field, a stale page, a grant nobody
would hold), and the embargo, its parties and its grants stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.messages import get_messages
from django.core import mail
from django.urls import reverse

from bastion.reports.access import may_see
from bastion.reports.models import AccessGrant, Embargo, EmbargoParty, Report
from bastion.reports.services.embargo import grant_access, lift_embargo, set_embargo

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
END = T0 + timedelta(days=10)
REASON = "Fix ships in 4.3 on 10 June"


@pytest.fixture
def clock() -> Iterator[time_machine.Traveller]:
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def fresh(submit, clock) -> Report:
    made = submit().report
    mail.outbox.clear()
    return made


@pytest.fixture
def embargoed(fresh, alice) -> Report:
    set_embargo(report=fresh, ends_at=END, reason=REASON, actor=alice)
    return fresh


def url(name: str, report: Report, *extra: object) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id, *extra])


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
def test_an_action_on_an_embargo_that_does_not_exist_is_a_404(client_as, alice, fresh, name, data):
    assert client_as(alice).post(url(name, fresh), data).status_code == 404
    assert not Embargo.objects.exists()


def test_a_move_without_a_reason_is_refused_and_the_end_stays(client_as, alice, embargoed):
    data = {"ends_at": "2026-06-20T09:00", "time_zone": "UTC", "reason": "", "version": "1"}

    response = client_as(alice).post(url("embargo_move", embargoed), data)

    assert response.status_code == 400
    assert "The embargo was not changed: see the embargo panel." in shown(response)
    assert unchanged(embargoed) == (1, END, 1)


def test_a_lift_from_a_stale_page_is_a_409_and_the_embargo_runs_on(client_as, alice, bob, embargoed):
    client = client_as(alice)
    moved = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}
    assert client.post(url("embargo_move", embargoed), moved).status_code == 303

    response = client.post(url("embargo_lift", embargoed), {"reason": "Fix shipped", "version": "1"})

    assert response.status_code == 409
    assert "Nothing was saved" in shown(response)
    assert Embargo.objects.get(report=embargoed).version == 2
    assert not may_see(bob, embargoed)


def test_a_party_without_a_name_is_refused(client_as, alice, embargoed):
    response = client_as(alice).post(
        url("embargo_party_add", embargoed), {"kind": "upstream", "label": "", "email": "sec@rails.example"}
    )

    assert response.status_code == 400
    assert 'value="sec@rails.example"' in response.content.decode()  # what was typed is kept
    assert unchanged(embargoed) == (1, END, 1)


def test_an_acknowledgement_of_an_end_that_moved_since_is_a_409(client_as, alice, embargoed):
    client = client_as(alice)
    moved = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}
    assert client.post(url("embargo_move", embargoed), moved).status_code == 303
    reporter = EmbargoParty.objects.get(embargo__report=embargoed)

    response = client.post(url("embargo_acknowledge", embargoed, reporter.uid), {"version": "1"})

    assert response.status_code == 409
    reporter.refresh_from_db()
    assert reporter.acknowledged_at is None


def test_an_acknowledgement_after_the_lift_is_refused(client_as, alice, embargoed):
    reporter = EmbargoParty.objects.get(embargo__report=embargoed)
    lift_embargo(embargo=Embargo.objects.get(report=embargoed), actor=alice, reason="Fix shipped")

    response = client_as(alice).post(url("embargo_acknowledge", embargoed, reporter.uid), {"version": "junk"})

    assert response.status_code == 400
    reporter.refresh_from_db()
    assert reporter.acknowledged_at is None


def test_a_viewer_cannot_be_granted_and_the_form_says_whom_to_choose(client_as, alice, charlie, embargoed):
    response = client_as(alice).post(url("embargo_grant", embargoed), {"user": charlie.pk})

    assert response.status_code == 400
    assert "Choose an active triager or admin who is not granted yet." in response.content.decode()
    assert list(AccessGrant.objects.values_list("user", flat=True)) == [alice.pk]


def test_revoking_without_choosing_anyone_asks_whom(client_as, alice, embargoed):
    response = client_as(alice).post(url("embargo_revoke", embargoed), {"user": "alice"})

    assert response.status_code == 400
    assert "Choose whose access to revoke." in shown(response)


def test_the_last_person_granted_cannot_be_revoked_while_the_embargo_runs(client_as, alice, embargoed):
    response = client_as(alice).post(url("embargo_revoke", embargoed), {"user": alice.pk})

    assert response.status_code == 400
    assert "is the last person granted on this embargoed report" in shown(response)
    assert may_see(alice, embargoed)


def test_revoking_someone_who_holds_no_access_says_so(client_as, alice, bob, embargoed):
    response = client_as(alice).post(url("embargo_revoke", embargoed), {"user": bob.pk})

    assert response.status_code == 400
    assert "holds no access to this report" in shown(response)


def test_revoking_ones_own_access_leads_back_to_the_inbox(client_as, alice, bob, embargoed):
    grant_access(report=embargoed, user=bob, actor=alice)

    response = client_as(alice).post(url("embargo_revoke", embargoed), {"user": alice.pk})

    assert response.status_code == 303
    assert response["Location"] == reverse("triage:inbox")
    assert not may_see(alice, embargoed)
    assert may_see(bob, embargoed)


def test_breaking_the_glass_without_a_reason_is_refused(client_as, bob, embargoed):
    response = client_as(bob).post(url("break_glass", embargoed), {"reason": ""})

    assert response.status_code == 400
    assert "Give the reason: breaking the glass always has one." in response.content.decode()
    assert not may_see(bob, embargoed)
