"""What each embargo action tells the staff member once it went through, and where it sends them.

The refusals are in ``test_embargo_view_refusals``; these are the successes: a 303 back to the
embargo panel with one message saying what changed, times read on the staff member's own clock.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages

from bastion.reports.access import may_see
from bastion.reports.models import Embargo
from bastion.triage.tests.conftest import END, report_url


def told(response) -> list[str]:
    """The messages the response leaves for the next page."""
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def in_paris(alice):
    """alice, reading times in Paris."""
    alice.time_zone = "Europe/Paris"
    alice.save()
    return alice


def test_setting_an_embargo_says_its_end_on_the_setters_clock(client_as, in_paris, fresh_report):
    data = {"ends_at": "2026-06-11T09:00", "time_zone": "UTC", "reason": "Fix ships in 4.3"}

    response = client_as(in_paris).post(report_url("embargo_set", fresh_report), data)

    assert (response.status_code, response["Location"]) == (
        303,
        report_url("report", fresh_report) + "#embargo",
    )
    assert told(response) == [
        "Embargoed until 11 June 2026, 11:00 CEST (Europe/Paris). You are granted on it."
    ]


def test_moving_an_embargo_says_the_new_end_and_that_parties_acknowledge_again(
    client_as, in_paris, embargoed_report
):
    data = {"ends_at": "2026-06-12T09:00", "time_zone": "UTC", "reason": "One day more", "version": "1"}

    response = client_as(in_paris).post(report_url("embargo_move", embargoed_report), data)

    assert response.status_code == 303
    assert Embargo.objects.get(report=embargoed_report).ends_at == END + timedelta(days=1)
    assert told(response) == [
        "Embargo moved to 12 June 2026, 11:00 CEST (Europe/Paris). Every party must acknowledge it again."
    ]


def test_lifting_an_embargo_says_everyone_may_see_the_report_again(client_as, alice, bob, embargoed_report):
    data = {"reason": "Fix shipped", "version": "1"}

    response = client_as(alice).post(report_url("embargo_lift", embargoed_report), data)

    assert response.status_code == 303
    assert told(response) == ["Embargo lifted. Every triager and admin may see this report again."]
    assert may_see(bob, embargoed_report)


def test_adding_a_party_names_it_as_typed_without_its_spaces(client_as, alice, embargoed_report):
    data = {"kind": "upstream", "label": "  Rails security team ", "email": ""}

    response = client_as(alice).post(report_url("embargo_party_add", embargoed_report), data)

    assert response.status_code == 303
    assert told(response) == ["Rails security team is now a party to the embargo."]


def test_granting_names_who_may_now_see_the_report(client_as, alice, bob, embargoed_report):
    response = client_as(alice).post(report_url("embargo_grant", embargoed_report), {"user": bob.pk})

    assert response.status_code == 303
    assert told(response) == [f"{bob.get_full_name()} may now see this report."]
    assert may_see(bob, embargoed_report)
