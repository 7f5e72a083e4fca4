"""Deciding a bounty: eligibility, proposal, four-eyes approval, payment, and declining with a reason."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.errors import ReportRejected, StaleEdit
from bastion.reports.models import (
    AuthorKind,
    Bounty,
    BountyStatus,
    Clock,
    ClockKind,
    Message,
    Program,
    Report,
    TimelineKind,
    Visibility,
)
from bastion.reports.sealing import open_field
from bastion.reports.services import change_status
from bastion.reports.services.bounty import (
    approve_award,
    assess_bounty,
    bounty_for,
    decline_bounty,
    mark_paid,
    propose_award,
    suggested_range,
)
from bastion.reports.tests.conftest import pay_bounties, rate_high

REASON = "NOTE-7c1e: this endpoint is listed as out of scope in the policy."


@pytest.fixture
def program(db) -> Program:
    """The default program, paying bounties: high 500-2000 USD; an admin approves above 1000."""
    return pay_bounties(high=[500, 2000], medium=["100", "500"])


@pytest.fixture
def report(submit, program) -> Report:
    """rita's report, scored high, under the bounty program."""
    return rate_high(submit().report)


def eligible(report: Report, actor) -> Bounty:
    return assess_bounty(
        report=report, actor=actor, in_scope=True, first_to_report=True, policy_followed=True
    )


def audited(event: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=event).order_by("id"))


def bounty_entries(report: Report):
    return list(report.timeline.filter(kind=TimelineKind.BOUNTY_DECIDED).order_by("id"))


def test_it_pays_no_bounty_outside_a_bounty_program(submit, alice):
    report = submit().report
    with pytest.raises(ReportRejected, match="pays no bounties"):
        bounty_for(report)
    with pytest.raises(ReportRejected, match="pays no bounties"):
        eligible(report, alice)
    assert not Bounty.objects.exists()


def test_it_suggests_the_range_for_the_reports_severity(report):
    assert suggested_range(report) == (Decimal("500"), Decimal("2000"))
    report.severity = "medium"
    assert suggested_range(report) == (Decimal("100"), Decimal("500"))
    report.severity = ""
    assert suggested_range(report) is None
    report.severity = "low"  # no row in the table
    assert suggested_range(report) is None


def test_it_records_eligibility_and_audits_it(report, alice):
    bounty = assess_bounty(
        report=report, actor=alice, in_scope=True, first_to_report=None, policy_followed=False
    )

    bounty.refresh_from_db()
    assert (bounty.in_scope, bounty.first_to_report, bounty.policy_followed) == (True, None, False)
    assert bounty.status == BountyStatus.PENDING
    assert bounty.version == 2
    (event,) = audited(Event.BOUNTY_ASSESSED)
    assert event.actor_id == alice.pk
    assert event.data["in_scope"] is True
    assert event.data["policy_followed"] is False


def test_it_refuses_a_proposal_until_every_answer_is_yes(report, alice):
    assess_bounty(report=report, actor=alice, in_scope=True, first_to_report=None, policy_followed=True)

    with pytest.raises(ReportRejected, match="first to report"):
        propose_award(report=report, actor=alice, amount="800")

    bounty = Bounty.objects.get(report=report)
    assert bounty.status == BountyStatus.PENDING
    assert bounty.amount is None
    assert not audited(Event.BOUNTY_PROPOSED)


def test_it_proposes_an_award_within_the_range_without_a_note(report, alice):
    eligible(report, alice)

    bounty = propose_award(report=report, actor=alice, amount="800")

    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.PROPOSED
    assert (bounty.amount, bounty.currency) == (Decimal("800.00"), "USD")
    assert bounty.proposed_by == alice
    assert bounty.proposed_at is not None
    assert bounty.decided_at == bounty.proposed_at
    (event,) = audited(Event.BOUNTY_PROPOSED)
    assert event.data == {"status": "proposed", "amount": "800.00", "currency": "USD", "in_range": True}
    # The reporter does not hear of an unapproved proposal.
    (entry,) = bounty_entries(report)
    assert entry.public is False
    assert not Message.objects.filter(report=report).exists()


def test_it_needs_a_note_for_an_amount_outside_the_range(report, alice):
    eligible(report, alice)

    with pytest.raises(ReportRejected, match=r"outside the range .*500 to 2000 USD.*add a note") as refused:
        propose_award(report=report, actor=alice, amount="2500")
    assert refused.value.field == "note"
    assert Bounty.objects.get(report=report).status == BountyStatus.PENDING

    bounty = propose_award(report=report, actor=alice, amount="2500", note="Chained to account takeover.")
    assert bounty.status == BountyStatus.PROPOSED
    assert open_field(bounty, "note", key=report.data_key_plain()) == "Chained to account takeover."
    assert audited(Event.BOUNTY_PROPOSED)[0].data["in_range"] is False


def test_it_needs_a_note_when_there_is_no_range_to_compare_with(report, alice):
    eligible(report, alice)
    Report.objects.filter(pk=report.pk).update(severity="")
    report.severity = ""

    with pytest.raises(ReportRejected, match="no range for this report's severity"):
        propose_award(report=report, actor=alice, amount="300")
    report.severity = "high"
    with pytest.raises(ReportRejected, match="table is in USD, so EUR cannot be checked"):
        propose_award(report=report, actor=alice, amount="800", currency="eur")


@pytest.mark.parametrize(
    ("amount", "problem"),
    [
        ("0", "more than zero"),
        ("-5", "more than zero"),
        ("12.345", "two decimals"),
        ("lots", "as a number"),
        ("NaN", "more than zero"),
        ("1e20", "at most"),
    ],
)
def test_it_refuses_a_bad_amount(report, alice, amount, problem):
    eligible(report, alice)
    with pytest.raises(ReportRejected, match=problem) as refused:
        propose_award(report=report, actor=alice, amount=amount, note="why")
    assert refused.value.field == "amount"


def test_it_refuses_a_bad_currency(report, alice):
    eligible(report, alice)
    with pytest.raises(ReportRejected, match="three-letter code"):
        propose_award(report=report, actor=alice, amount="800", currency="US$", note="why")


def test_it_refuses_approval_by_the_proposer(report, alice):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="800")

    with pytest.raises(PermissionDenied, match="someone else must approve"):
        approve_award(report=report, actor=alice)

    assert Bounty.objects.get(report=report).status == BountyStatus.PROPOSED
    assert not audited(Event.BOUNTY_APPROVED)


def test_it_refuses_an_admin_approving_their_own_proposal(report, dave):
    eligible(report, dave)
    propose_award(report=report, actor=dave, amount="800")
    with pytest.raises(PermissionDenied):
        approve_award(report=report, actor=dave)


def test_it_lets_only_an_admin_approve_above_the_threshold(report, alice, bob, dave):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="1500")

    with pytest.raises(PermissionDenied, match=r"threshold \(1000.00 USD\): only an admin"):
        approve_award(report=report, actor=bob)
    assert Bounty.objects.get(report=report).status == BountyStatus.PROPOSED

    bounty = approve_award(report=report, actor=dave)
    assert bounty.status == BountyStatus.APPROVED
    assert bounty.approved_by == dave


def test_it_lets_a_second_triager_approve_up_to_the_threshold(report, alice, bob):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="1000")

    bounty = approve_award(report=report, actor=bob)

    assert bounty.status == BountyStatus.APPROVED
    assert bounty.approved_by == bob
    assert bounty.approved_at is not None


def test_it_tells_the_reporter_once_the_award_is_approved(report, program, alice, bob):
    program.approval_threshold = Decimal("5000")
    program.save()
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="2100", note=REASON)
    assert not report.timeline.public().filter(kind=TimelineKind.BOUNTY_DECIDED).exists()
    assert not Message.objects.filter(report=report).exists()

    approve_award(report=report, actor=bob)

    public = [entry for entry in bounty_entries(report) if entry.public]
    assert [entry.data for entry in public] == [
        {"status": "approved", "amount": "2100.00", "currency": "USD"}
    ]
    (message,) = Message.objects.filter(report=report)
    assert message.visibility == Visibility.PUBLIC
    assert message.author == bob
    assert message.author_kind == AuthorKind.STAFF
    assert open_field(message, "body", key=report.data_key_plain()) == REASON
    (event,) = audited(Event.BOUNTY_APPROVED)
    assert event.actor_id == bob.pk
    assert event.data["amount"] == "2100.00"


def test_it_marks_an_approved_award_paid(report, alice, bob):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="800")
    approve_award(report=report, actor=bob)

    bounty = mark_paid(report=report, actor=alice)

    assert bounty.status == BountyStatus.PAID
    assert bounty.paid_at is not None
    assert Bounty.objects.get(pk=bounty.pk).paid_by == alice
    assert bounty_entries(report)[-1].data == {"status": "paid", "amount": "800.00", "currency": "USD"}
    assert bounty_entries(report)[-1].public
    assert audited(Event.BOUNTY_PAID)[0].actor_id == alice.pk


def test_it_refuses_steps_out_of_order(report, alice, bob):
    with pytest.raises(ReportRejected, match="only be approved after an award is proposed"):
        approve_award(report=report, actor=bob)
    with pytest.raises(ReportRejected, match="only be marked paid after the award is approved"):
        mark_paid(report=report, actor=bob)
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="800")
    with pytest.raises(ReportRejected, match="only be marked paid"):
        mark_paid(report=report, actor=bob)

    bounty = Bounty.objects.get(report=report)
    assert bounty.status == BountyStatus.PROPOSED
    assert not audited(Event.BOUNTY_APPROVED)
    assert not audited(Event.BOUNTY_PAID)


def test_it_freezes_the_decision_once_approved(report, alice, bob):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="800")
    approve_award(report=report, actor=bob)
    before = Bounty.objects.get(report=report).version

    with pytest.raises(ReportRejected, match="can no longer change"):
        assess_bounty(report=report, actor=alice, in_scope=False, first_to_report=True, policy_followed=True)
    with pytest.raises(ReportRejected, match="cannot be proposed again"):
        propose_award(report=report, actor=alice, amount="900")
    with pytest.raises(ReportRejected, match="cannot be declined"):
        decline_bounty(report=report, actor=alice, note="no")

    bounty = Bounty.objects.get(report=report)
    assert (bounty.status, bounty.amount, bounty.version) == (
        BountyStatus.APPROVED,
        Decimal("800.00"),
        before,
    )


def test_it_declines_with_a_reason_the_reporter_reads(report, alice):
    assess_bounty(report=report, actor=alice, in_scope=False, first_to_report=True, policy_followed=True)

    bounty = decline_bounty(report=report, actor=alice, note=REASON)

    bounty.refresh_from_db()
    assert bounty.status == BountyStatus.INELIGIBLE
    assert bounty.decided_at is not None
    assert bounty.note is not None
    assert REASON.encode() not in bytes(bounty.note)
    assert open_field(bounty, "note", key=report.data_key_plain()) == REASON
    (entry,) = bounty_entries(report)
    assert entry.public
    assert entry.data == {"status": "ineligible", "amount": None, "currency": "", "unmet": ["in_scope"]}
    (message,) = Message.objects.filter(report=report)
    assert message.visibility == Visibility.PUBLIC
    assert open_field(message, "body", key=report.data_key_plain()) == REASON
    (event,) = audited(Event.BOUNTY_DECLINED)
    assert "NOTE-7c1e" not in str(event.data)


def test_it_refuses_to_decline_without_a_failed_criterion(report, alice):
    eligible(report, alice)
    with pytest.raises(ReportRejected, match="first answer “no”"):
        decline_bounty(report=report, actor=alice, note=REASON)
    assert Bounty.objects.get(report=report).status == BountyStatus.PENDING
    assert not Message.objects.filter(report=report).exists()


def test_it_refuses_to_decline_without_a_reason(report, alice):
    assess_bounty(report=report, actor=alice, in_scope=False, first_to_report=True, policy_followed=True)
    with pytest.raises(ReportRejected, match="required") as refused:
        decline_bounty(report=report, actor=alice, note="   ")
    assert refused.value.field == "note"


def test_it_refuses_a_proposal_once_declined_until_reassessed(report, alice, bob):
    assess_bounty(report=report, actor=alice, in_scope=True, first_to_report=False, policy_followed=True)
    decline_bounty(report=report, actor=alice, note=REASON)

    with pytest.raises(ReportRejected, match="not yet: first to report"):
        propose_award(report=report, actor=bob, amount="800")

    eligible(report, bob)  # the reporter showed the earlier report was theirs
    assert propose_award(report=report, actor=bob, amount="800").status == BountyStatus.PROPOSED


def test_it_withdraws_a_proposal_when_an_answer_turns_no(report, alice, bob):
    eligible(report, alice)
    propose_award(report=report, actor=alice, amount="800")

    bounty = assess_bounty(
        report=report, actor=bob, in_scope=True, first_to_report=False, policy_followed=True
    )

    assert bounty.status == BountyStatus.PENDING
    assert bounty.amount is None
    assert bounty.proposed_by is None
    assert audited(Event.BOUNTY_ASSESSED)[-1].data["withdrawn"] is True
    with pytest.raises(ReportRejected):
        approve_award(report=report, actor=bob)


def test_it_meets_the_bounty_decision_target_when_an_award_is_proposed(report, alice):
    change_status(report=report, to="triaged", actor=alice)
    assert Clock.objects.filter(report=report, kind=ClockKind.BOUNTY_DECISION, met_at__isnull=True).exists()
    eligible(report, alice)

    propose_award(report=report, actor=alice, amount="800")

    clock = Clock.objects.get(report=report, kind=ClockKind.BOUNTY_DECISION)
    assert clock.met_at == Bounty.objects.get(report=report).decided_at


def test_it_refuses_a_stale_version(report, alice, bob):
    first = eligible(report, alice)
    seen = first.version
    propose_award(report=report, actor=bob, amount="800", expected_version=seen)

    with pytest.raises(StaleEdit):
        propose_award(report=report, actor=alice, amount="900", expected_version=seen)
    with pytest.raises(StaleEdit):
        assess_bounty(
            report=report,
            actor=alice,
            in_scope=False,
            first_to_report=True,
            policy_followed=True,
            expected_version=seen,
        )

    bounty = Bounty.objects.get(report=report)
    assert (bounty.status, bounty.amount, bounty.proposed_by) == (
        BountyStatus.PROPOSED,
        Decimal("800.00"),
        bob,
    )
    assert bounty.in_scope is True


def test_it_refuses_viewers_and_anonymous_actors(report, charlie):
    for actor in (charlie, Actor.anonymous(), None):
        with pytest.raises(PermissionDenied):
            assess_bounty(
                report=report, actor=actor, in_scope=True, first_to_report=True, policy_followed=True
            )
        with pytest.raises(PermissionDenied):
            decline_bounty(report=report, actor=actor, note=REASON)
        with pytest.raises(PermissionDenied):
            propose_award(report=report, actor=actor, amount="800")
        with pytest.raises(PermissionDenied):
            approve_award(report=report, actor=actor)
        with pytest.raises(PermissionDenied):
            mark_paid(report=report, actor=actor)
    assert not Bounty.objects.exists()
