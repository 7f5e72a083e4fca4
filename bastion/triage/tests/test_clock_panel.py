"""The clocks panel: each target's state and due time, in the viewer's own time zone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse

from bastion.reports.clock_tasks import check_clocks
from bastion.reports.models import Report, Visibility
from bastion.reports.services import change_status, post_message
from bastion.reports.workflow import Status
from bastion.test import T0


@pytest.fixture
def fresh(submit, clock) -> Report:
    return submit().report


def panel(client, report: Report) -> str:
    html = client.get(reverse("triage:report", args=[report.tracking_id])).content.decode()
    start = html.index('id="clocks"')
    return html[start : html.index("</section>", start)]


def test_it_shows_due_times_in_the_viewers_time_zone(client_as, alice, bob, fresh, clock):
    alice.time_zone, bob.time_zone = "Asia/Tokyo", "America/New_York"
    alice.save()
    bob.save()
    clock.move_to(T0 + 6 * timedelta(hours=1))

    for_alice, for_bob = panel(client_as(alice), fresh), panel(client_as(bob), fresh)

    # First response is due 24 hours after 09:00 UTC on 1 June.
    assert "2026-06-02 18:00 JST" in for_alice
    assert "Asia/Tokyo" in for_alice
    assert "2026-06-02 05:00 EDT" in for_bob
    assert "America/New_York" in for_bob
    assert "25 % used" in for_alice  # 6 of 24 hours
    assert "Running" in for_alice


def test_it_shows_met_paused_and_breached_targets(
    client_as, alice, fresh, clock, django_capture_on_commit_callbacks
):
    clock.move_to(T0 + timedelta(hours=30))
    with django_capture_on_commit_callbacks(execute=True):
        check_clocks.call()  # first response: missed
    post_message(report=fresh, body="Sorry for the wait.", visibility=Visibility.PUBLIC, actor=alice)
    change_status(report=fresh, to=Status.NEEDS_MORE_INFO, actor=alice)

    html = panel(client_as(alice), fresh)

    assert "Met late" in html
    assert 'class="badge badge-danger">Breached' in html
    assert "Paused: waiting on the reporter" in html
    assert "90.0 working hours left" in html  # triage: 120 h less the 30 h used


def test_it_rejects_viewers(client_as, charlie, fresh):
    response = client_as(charlie).get(reverse("triage:report", args=[fresh.tracking_id]))

    assert response.status_code in (403, 404)
    assert b'id="clocks"' not in response.content
