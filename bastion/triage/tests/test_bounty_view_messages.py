"""What the approve and paid steps of the bounty panel tell the staff member, and where they land."""

from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from bastion.reports.models import Bounty, BountyStatus, Report
from bastion.reports.services.bounty import approve_award, assess_bounty, propose_award
from bastion.reports.tests.conftest import pay_bounties, rate_high


@pytest.fixture
def proposed(report, alice) -> Report:
    """rita's report, scored high in a program paying 500-2000 USD, with 800 USD proposed by alice."""
    pay_bounties(high=[500, 2000])
    rated = rate_high(report)
    assess_bounty(report=rated, actor=alice, in_scope=True, first_to_report=True, policy_followed=True)
    propose_award(report=rated, actor=alice, amount="800", note=None)
    return rated


def post_step(client, name: str, report: Report):
    version = Bounty.objects.get(report=report).version
    return client.post(reverse(f"triage:{name}", args=[report.tracking_id]), {"version": version})


def told(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_approving_goes_back_to_the_panel_saying_the_reporter_was_told(client_as, bob, proposed):
    response = post_step(client_as(bob), "bounty_approve", proposed)

    assert response.status_code == 303
    assert response["Location"] == reverse("triage:report", args=[proposed.tracking_id]) + "#bounty"
    assert told(response) == ["Award approved: the reporter has been told."]
    assert Bounty.objects.get(report=proposed).status == BountyStatus.APPROVED


def test_marking_paid_goes_back_to_the_panel_saying_the_reporter_was_told(client_as, alice, bob, proposed):
    approve_award(report=proposed, actor=bob)

    response = post_step(client_as(alice), "bounty_paid", proposed)

    assert response.status_code == 303
    assert response["Location"] == reverse("triage:report", args=[proposed.tracking_id]) + "#bounty"
    assert told(response) == ["Award marked paid: the reporter has been told."]
    assert Bounty.objects.get(report=proposed).status == BountyStatus.PAID
