"""The bounty decision on rita's portal page: shown once approved or declined, never a bare proposal."""

from __future__ import annotations

import pytest

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import link, visible_text
from bastion.reports.models import Program, Report
from bastion.reports.services.bounty import (
    approve_award,
    assess_bounty,
    decline_bounty,
    mark_paid,
    propose_award,
)
from bastion.reports.tests.conftest import pay_bounties, rate_high

pytestmark = pytest.mark.django_db

PROPOSAL_NOTE = "PROPOSAL-3f9a: chained with the export bug"
DECLINE_NOTE = "DECLINE-81bd: the admin panel is out of scope."


@pytest.fixture
def program(db) -> Program:
    return pay_bounties(high=[500, 2000])


@pytest.fixture
def bounty_report(report, program) -> Report:
    return rate_high(report)


def answer(
    report: Report,
    actor,
    *,
    in_scope: bool = True,
    first_to_report: bool = True,
    policy_followed: bool = True,
) -> None:
    assess_bounty(
        report=report,
        actor=actor,
        in_scope=in_scope,
        first_to_report=first_to_report,
        policy_followed=policy_followed,
    )


def portal(client, report: Report) -> str:
    response = client.get(link(report))
    assert response.status_code == 200
    return visible_text(response)


def test_it_shows_no_bounty_outside_a_bounty_program(client, report):
    assert "Bounty" not in portal(client, report)


def test_it_says_not_decided_yet_before_any_decision(client, bounty_report):
    text = portal(client, bounty_report)

    assert "Bounty Not decided yet" in text
    assert "This program pays bounties." in text


def test_it_does_not_show_an_unapproved_proposal(client, bounty_report, alice):
    answer(bounty_report, alice)
    propose_award(report=bounty_report, actor=alice, amount="2500", note=PROPOSAL_NOTE)

    text = portal(client, bounty_report)

    assert "Not decided yet" in text
    assert "2500" not in text
    assert "PROPOSAL-3f9a" not in text
    assert "Award proposed" not in text


def test_it_shows_an_approved_award_with_its_amount_and_note(client, bounty_report, alice, dave):
    answer(bounty_report, alice)
    propose_award(report=bounty_report, actor=alice, amount="2500", note=PROPOSAL_NOTE)
    approve_award(report=bounty_report, actor=dave)

    text = portal(client, bounty_report)

    assert "Bounty Award approved 2500.00 USD" in text
    assert PROPOSAL_NOTE in text  # in the bounty card, and as the team's message
    assert "Bounty decision: an award (2500.00 USD) was approved." in text
    assert "we will tell you here once it is paid" in text


def test_it_shows_a_paid_award(client, bounty_report, alice, bob):
    answer(bounty_report, alice)
    propose_award(report=bounty_report, actor=alice, amount="800")
    approve_award(report=bounty_report, actor=bob)
    mark_paid(report=bounty_report, actor=bob)

    text = portal(client, bounty_report)

    assert "Bounty Paid 800.00 USD" in text
    assert "The bounty (800.00 USD) was paid." in text


def test_it_shows_why_a_report_is_not_eligible(client, bounty_report, alice):
    answer(bounty_report, alice, in_scope=False, policy_followed=False)
    decline_bounty(report=bounty_report, actor=alice, note=DECLINE_NOTE)

    text = portal(client, bounty_report)

    assert "Bounty Not eligible" in text
    assert "It is outside the program's scope." in text
    assert "The program's policy was not followed." in text
    assert "reported to us before" not in text
    assert DECLINE_NOTE in text
    assert "Bounty decision: this report is not eligible for a bounty." in text


def test_it_keeps_showing_the_decline_while_a_new_proposal_waits(client, bounty_report, alice):
    answer(bounty_report, alice, first_to_report=False)
    decline_bounty(report=bounty_report, actor=alice, note=DECLINE_NOTE)
    answer(bounty_report, alice)
    propose_award(report=bounty_report, actor=alice, amount="900", note=PROPOSAL_NOTE)

    text = portal(client, bounty_report)

    assert "Bounty Not eligible" in text
    assert "The issue was reported to us before." in text
    assert "PROPOSAL-3f9a" not in text
    assert "900" not in text


def test_it_opens_the_page_with_one_audited_read(client, bounty_report, alice, bob):
    answer(bounty_report, alice)
    propose_award(report=bounty_report, actor=alice, amount="800", note=PROPOSAL_NOTE)
    approve_award(report=bounty_report, actor=bob)
    before = AuditEvent.objects.filter(event=Event.REPORT_VIEWED).count()

    portal(client, bounty_report)

    assert AuditEvent.objects.filter(event=Event.REPORT_VIEWED).count() == before + 1
