"""rita's side of an embargo: its end on her clock and in UTC, and acknowledging it with one button."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import bad_link, link, visible_text
from bastion.reports.models import Embargo, PartyKind, Report
from bastion.reports.services import reporter_actor, update_reporter
from bastion.reports.services.embargo import lift_embargo, move_embargo, set_embargo
from bastion.test import T0

pytestmark = pytest.mark.django_db

END = T0 + timedelta(days=10)


@pytest.fixture
def embargoed(report: Report, alice, clock) -> Report:
    update_reporter(report=report, actor=reporter_actor(report), time_zone="Asia/Tokyo")
    set_embargo(report=report, ends_at=END, reason="Fix ships in 4.3", actor=alice)
    return report


def reporter_party(report: Report):
    return Embargo.objects.get(report=report).parties.get(kind=PartyKind.REPORTER)


def section(response) -> str:
    html = response.content.decode()
    start = html.index('id="embargo"')
    return html[start : html.index("</section>", start)]


def test_the_reporter_sees_the_end_on_her_clock_and_in_utc(client, embargoed):
    text = visible_text(client.get(link(embargoed)))

    assert "11 Jun 2026, 18:00 (Asia/Tokyo)" in text
    assert "11 Jun 2026, 09:00 UTC" in text
    assert "I acknowledge this embargo" in text
    assert "Fix ships in 4.3" not in text  # the reason is staff business
    assert "Embargo until 11 Jun 2026, 18:00 (Asia/Tokyo), 11 Jun 2026, 09:00 UTC" in text  # the timeline


def test_a_report_without_an_embargo_shows_none(client, report):
    assert 'id="embargo"' not in client.get(link(report)).content.decode()


def test_one_button_acknowledges_it_and_the_page_says_so(client, embargoed):
    response = client.post(link(embargoed, "embargo_acknowledge"), {"version": "1"})

    assert response.status_code == 303
    assert response["Location"].endswith("#embargo")
    assert reporter_party(embargoed).is_acknowledged
    row = AuditEvent.objects.get(event=Event.EMBARGO_ACKNOWLEDGED)
    assert row.actor_kind == ActorKind.REPORTER
    page = client.get(link(embargoed))
    assert "You agreed to this end" in section(page)
    assert "I acknowledge this embargo" not in section(page)
    assert "You acknowledged the embargo." in visible_text(page)


def test_after_a_move_she_is_asked_again_and_an_old_page_cannot_acknowledge(client, embargoed, alice):
    client.post(link(embargoed, "embargo_acknowledge"), {"version": "1"})
    move_embargo(
        embargo=Embargo.objects.get(report=embargoed),
        ends_at=END + timedelta(days=2),
        reason="Later",
        actor=alice,
        seen_version=1,
    )

    stale = client.post(link(embargoed, "embargo_acknowledge"), {"version": "1"}, follow=True)

    assert "Someone else changed this embargo" in visible_text(stale)
    assert not reporter_party(embargoed).is_acknowledged
    shown = section(client.get(link(embargoed)))
    assert "The end moved since you last acknowledged it" in shown
    assert "13 Jun 2026, 18:00" in shown
    assert client.post(link(embargoed, "embargo_acknowledge"), {"version": "2"}).status_code == 303
    assert reporter_party(embargoed).is_acknowledged


def test_a_lifted_embargo_is_shown_as_lifted_and_cannot_be_acknowledged(client, embargoed, alice):
    lift_embargo(embargo=Embargo.objects.get(report=embargoed), actor=alice, reason="Fix shipped early")

    page = client.get(link(embargoed))
    refused = client.post(link(embargoed, "embargo_acknowledge"), {"version": "2"}, follow=True)

    assert "The embargo was lifted" in section(page)
    assert "was lifted; there is nothing to acknowledge" in visible_text(refused)
    assert reporter_party(embargoed).acknowledged_at is None


def test_it_rejects_a_link_with_the_wrong_token(client, embargoed):
    response = client.post(bad_link(embargoed, "embargo_acknowledge"), {"version": "1"})

    assert response.status_code == 404
    assert reporter_party(embargoed).acknowledged_at is None


def test_it_rejects_an_acknowledgement_without_a_version(client, embargoed):
    response = client.post(link(embargoed, "embargo_acknowledge"), {}, follow=True)

    assert "reload the page and acknowledge again" in visible_text(response)
    assert reporter_party(embargoed).acknowledged_at is None
