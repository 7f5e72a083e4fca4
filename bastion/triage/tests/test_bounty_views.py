"""The bounty panel on the report page, and its posts: eligibility, decline, propose, approve, paid."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Bounty, BountyStatus, Message, Program, Report
from bastion.reports.services.bounty import approve_award, assess_bounty, propose_award
from bastion.reports.tests.conftest import pay_bounties, rate_high

ACTIONS = ["bounty_eligibility", "bounty_decline", "bounty_propose", "bounty_approve", "bounty_paid"]
YES = {"in_scope": "yes", "first_to_report": "yes", "policy_followed": "yes"}


@pytest.fixture
def program(db) -> Program:
    """The default program, paying 500-2000 USD for high severity; an admin approves above 1000."""
    return pay_bounties(high=[500, 2000])


@pytest.fixture
def bounty_report(report, program) -> Report:
    """rita's report, scored high, in the bounty program."""
    return rate_high(report)


def url(name: str, report: Report) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id])


def page(client, report: Report) -> str:
    response = client.get(url("report", report))
    assert response.status_code == 200
    return response.content.decode()


def version(report: Report) -> int:
    bounty = Bounty.objects.filter(report=report).first()
    return bounty.version if bounty else 1


def proposed(report: Report, by, amount: str = "800") -> None:
    assess_bounty(report=report, actor=by, in_scope=True, first_to_report=True, policy_followed=True)
    propose_award(report=report, actor=by, amount=amount, note="Thanks" if Decimal(amount) > 2000 else None)


def test_it_shows_the_panel_with_the_suggested_range(client_as, alice, bounty_report):
    text = page(client_as(alice), bounty_report)

    assert 'id="bounty"' in text
    assert "500 to 2000 USD" in text
    assert "Save eligibility" in text
    assert "Propose award" not in text  # not until every answer is yes


def test_it_hides_the_panel_outside_a_bounty_program(client_as, alice, report):
    assert 'id="bounty"' not in page(client_as(alice), report)


def test_it_records_eligibility(client_as, alice, bounty_report):
    response = client_as(alice).post(
        url("bounty_eligibility", bounty_report), {**YES, "in_scope": "no", "version": 1}
    )

    assert response.status_code == 303
    assert response["Location"] == url("report", bounty_report) + "#bounty"
    bounty = Bounty.objects.get(report=bounty_report)
    assert (bounty.in_scope, bounty.first_to_report, bounty.policy_followed) == (False, True, True)
    assert AuditEvent.objects.filter(event=Event.BOUNTY_ASSESSED, actor_id=alice.pk).exists()
    assert "Decline the bounty" in page(client_as(alice), bounty_report)


def test_it_says_when_a_new_answer_withdraws_the_proposal(client_as, alice, bob, bounty_report):
    proposed(bounty_report, alice)

    response = client_as(bob).post(
        url("bounty_eligibility", bounty_report),
        {**YES, "first_to_report": "no", "version": version(bounty_report)},
        follow=True,
    )

    assert "The proposed award was withdrawn" in response.content.decode()
    assert Bounty.objects.get(report=bounty_report).status == BountyStatus.PENDING


def test_it_declines_and_tells_the_reporter(client_as, alice, bounty_report):
    client = client_as(alice)
    client.post(url("bounty_eligibility", bounty_report), {**YES, "policy_followed": "no", "version": 1})

    response = client.post(
        url("bounty_decline", bounty_report), {"note": "Data was taken.", "version": version(bounty_report)}
    )

    assert response.status_code == 303
    assert Bounty.objects.get(report=bounty_report).status == BountyStatus.INELIGIBLE
    assert Message.objects.filter(report=bounty_report, visibility="public").count() == 1


def test_it_proposes_an_award_in_the_programs_currency(client_as, alice, bounty_report):
    client = client_as(alice)
    client.post(url("bounty_eligibility", bounty_report), {**YES, "version": 1})
    assert 'name="currency" value="USD"' in page(client, bounty_report)

    response = client.post(
        url("bounty_propose", bounty_report),
        {"amount": "750", "currency": "USD", "note": "", "version": version(bounty_report)},
    )

    assert response.status_code == 303
    bounty = Bounty.objects.get(report=bounty_report)
    assert (bounty.status, bounty.amount, bounty.proposed_by) == (
        BountyStatus.PROPOSED,
        Decimal("750"),
        alice,
    )
    assert "You proposed this award: someone else must approve it." in page(client, bounty_report)


def test_it_says_an_amount_outside_the_range_needs_a_note(client_as, alice, bounty_report):
    client = client_as(alice)
    client.post(url("bounty_eligibility", bounty_report), {**YES, "version": 1})

    response = client.post(
        url("bounty_propose", bounty_report),
        {"amount": "5000", "currency": "USD", "note": "", "version": version(bounty_report)},
    )

    assert response.status_code == 400
    assert "outside the range for this severity (500 to 2000 USD): add a note" in response.content.decode()
    assert Bounty.objects.get(report=bounty_report).status == BountyStatus.PENDING


def test_it_lets_another_triager_approve(client_as, alice, bob, bounty_report):
    proposed(bounty_report, alice)
    client = client_as(bob)
    assert "Approve 800.00 USD" in page(client, bounty_report)

    response = client.post(url("bounty_approve", bounty_report), {"version": version(bounty_report)})

    assert response.status_code == 303
    bounty = Bounty.objects.get(report=bounty_report)
    assert bounty.status == BountyStatus.APPROVED
    assert bounty.approved_by == bob


def test_it_refuses_approval_by_the_proposer(client_as, alice, bounty_report):
    proposed(bounty_report, alice)

    response = client_as(alice).post(
        url("bounty_approve", bounty_report), {"version": version(bounty_report)}
    )

    assert response.status_code == 403
    assert "someone else must approve it" in response.content.decode()
    assert Bounty.objects.get(report=bounty_report).status == BountyStatus.PROPOSED


def test_it_offers_approval_above_the_threshold_to_admins_only(client_as, alice, bob, dave, bounty_report):
    proposed(bounty_report, alice, amount="1500")

    text = page(client_as(bob), bounty_report)
    assert "an admin must approve this award" in text
    assert "Approve 1500.00 USD" not in text
    response = client_as(bob).post(url("bounty_approve", bounty_report), {"version": version(bounty_report)})
    assert response.status_code == 403
    assert "only an admin may approve it" in response.content.decode()

    assert "Approve 1500.00 USD" in page(client_as(dave), bounty_report)
    response = client_as(dave).post(url("bounty_approve", bounty_report), {"version": version(bounty_report)})
    assert response.status_code == 303


def test_it_marks_paid_and_shows_who_did_each_step_in_the_viewers_time_zone(
    client_as, alice, bob, bounty_report
):
    bob.time_zone = "Asia/Tokyo"
    bob.save()
    with time_machine.travel(datetime(2025, 3, 1, 9, 30, tzinfo=UTC), tick=False):
        proposed(bounty_report, alice)
        approve_award(report=bounty_report, actor=bob)
        response = client_as(alice).post(
            url("bounty_paid", bounty_report), {"version": version(bounty_report)}
        )
    assert response.status_code == 303
    assert Bounty.objects.get(report=bounty_report).status == BountyStatus.PAID

    text = page(client_as(bob), bounty_report)

    assert "Alice Triager, <time" in text  # proposed
    assert "Bob Triager, <time" in text  # approved
    assert text.count("Alice Triager, <time") == 2  # proposed and paid
    assert "2025-03-01 18:30 JST" in text
    assert "Mark as paid" not in text


def test_it_refuses_a_step_out_of_order(client_as, bob, bounty_report):
    response = client_as(bob).post(url("bounty_paid", bounty_report), {"version": 1})

    assert response.status_code == 400
    assert "it can only be marked paid after the award is approved" in response.content.decode()
    assert not AuditEvent.objects.filter(event=Event.BOUNTY_PAID).exists()


def test_it_refuses_a_stale_form(client_as, alice, bob, bounty_report):
    client_as(alice).post(url("bounty_eligibility", bounty_report), {**YES, "version": 1})

    response = client_as(bob).post(
        url("bounty_eligibility", bounty_report), {**YES, "in_scope": "no", "version": 1}
    )

    assert response.status_code == 409
    assert "Someone else changed this report" in response.content.decode()
    assert Bounty.objects.get(report=bounty_report).in_scope is True


def test_it_refuses_a_bounty_post_outside_a_bounty_program(client_as, alice, report):
    response = client_as(alice).post(url("bounty_eligibility", report), {**YES, "version": 1})

    assert response.status_code == 400
    assert "pays no bounties" in response.content.decode()
    assert not Bounty.objects.exists()


@pytest.mark.parametrize("name", ACTIONS)
def test_it_rejects_viewers(client_as, charlie, bounty_report, name):
    response = client_as(charlie).post(
        url(name, bounty_report), {**YES, "version": 1, "note": "x", "amount": "800"}
    )

    assert response.status_code == 403
    assert not Bounty.objects.exists()


@pytest.mark.parametrize("name", ACTIONS)
def test_it_rejects_anonymous_visitors(client, bounty_report, name):
    response = client.post(url(name, bounty_report), {**YES, "version": 1})

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))
    assert not Bounty.objects.exists()


@pytest.mark.parametrize("name", ACTIONS)
def test_it_rejects_a_get(client_as, alice, bounty_report, name):
    assert client_as(alice).get(url(name, bounty_report)).status_code == 405


def test_it_rejects_an_unknown_report(client_as, alice, program):
    response = client_as(alice).post(reverse("triage:bounty_eligibility", args=["NOPE-0000"]), {"version": 1})

    assert response.status_code == 404
