"""rita's credit choices the portal turns away: what she reads, and her credit left as it was."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages

from bastion.audit.services import Actor
from bastion.portal.tests.conftest import link
from bastion.reports.models.credit import Appearance
from bastion.reports.services import ShredReason, shred_report
from bastion.reports.services.credits import ensure_reporter_credit, withdraw_credit

pytestmark = pytest.mark.django_db


def notes(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_an_appearance_the_form_does_not_offer_is_refused(client, report):
    credit = ensure_reporter_credit(report)
    data = {"appearance": "famous", "name": "", "handle": "", "link": "", "version": credit.version}

    response = client.post(link(report, "credit"), data)

    assert response.status_code == 400
    credit.refresh_from_db()
    assert credit.appearance == Appearance.NAME


def test_a_confirmation_without_a_version_asks_her_to_reload(client, report):
    response = client.post(link(report, "credit_confirm"), {"version": "latest"})

    assert response.status_code == 303
    assert response["Location"].endswith("#credit")
    assert notes(response) == ["The confirmation was not understood: reload the page and try again."]
    assert ensure_reporter_credit(report).confirmed_at is None


def test_confirming_a_credit_the_team_withdrew_tells_her_to_reply(client, report, alice):
    credit = ensure_reporter_credit(report)
    withdraw_credit(credit=credit, reason="The finding came from another researcher.", actor=alice)
    credit.refresh_from_db()

    response = client.post(link(report, "credit_confirm"), {"version": credit.version})

    assert response.status_code == 303
    assert notes(response) == ["The security team withdrew this credit; reply to them to discuss it."]
    credit.refresh_from_db()
    assert credit.confirmed_at is None


def test_confirming_a_credit_on_a_shredded_report_is_gone(client, report):
    credit = ensure_reporter_credit(report)
    token_link = link(report, "credit_confirm")
    shred_report(report=report, actor=Actor.system(), why=ShredReason.OPERATOR)

    response = client.post(token_link, {"version": credit.version})

    assert response.status_code == 410
    assert "content was destroyed" in " ".join(notes(response))
