"""The credit ledger refusing what it must: each refusal names the field and why, and the ledger is unchanged.

The ledger's working paths are in ``test_credits.py``.
"""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Report
from bastion.reports.models.credit import CreditChange
from bastion.reports.services import reporter_actor
from bastion.reports.services.credits import (
    add_credit,
    confirm_credit,
    correct_credit,
    credit_history,
    ensure_reporter_credit,
    report_credits,
    reporter_credit,
    withdraw_credit,
)
from bastion.reports.services.shredding import ShredReason, shred_report

pytestmark = pytest.mark.django_db


@pytest.fixture
def report(submit) -> Report:
    return submit().report


def changes_of(credit) -> list[str]:
    return list(CreditChange.objects.filter(credit=credit).order_by("id").values_list("action", flat=True))


def test_only_the_reporter_reads_their_own_credit(report, alice):
    with pytest.raises(PermissionDenied, match=re.escape("Only the reporter sees their credit here.")):
        reporter_credit(report=report, actor=alice)


def test_a_correction_of_a_field_that_cannot_be_corrected_is_refused(report, alice):
    credit = ensure_reporter_credit(report)

    with pytest.raises(ReportRejected, match="Only the type, appearance, name, handle and link") as refused:
        correct_credit(
            credit=credit,
            changes={"receipt": "x"},
            reason="Typo in it",
            actor=alice,
            seen_version=credit.version,
        )

    assert refused.value.field == "receipt"
    assert changes_of(credit) == ["created"]


def test_a_correction_that_changes_nothing_is_refused(report, alice):
    credit = ensure_reporter_credit(report)

    with pytest.raises(ReportRejected, match="Nothing would change"):
        correct_credit(
            credit=credit, changes={"handle": "rita"}, reason="Same as before", actor=alice,
            seen_version=credit.version,
        )  # fmt: skip

    assert changes_of(credit) == ["created"]


def test_a_withdrawn_credit_is_neither_corrected_nor_confirmed_nor_copied(report, alice):
    credit = ensure_reporter_credit(report)
    withdraw_credit(credit=credit, reason="She asked not to be credited at all.", actor=alice)
    credit.refresh_from_db()

    with pytest.raises(ReportRejected, match=re.escape("This credit was withdrawn: add a new one instead.")):
        correct_credit(
            credit=credit, changes={"handle": "r1ta"}, reason="Her new handle", actor=alice,
            seen_version=credit.version,
        )  # fmt: skip
    with pytest.raises(ReportRejected, match="The security team withdrew this credit"):
        confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)
    with pytest.raises(
        ReportRejected, match=re.escape("The reporter's credit was withdrawn; they are not credited.")
    ):
        add_credit(
            report=report, credit_type="analyst", person=None, appearance="name", actor=alice,
            for_reporter=True,
        )  # fmt: skip

    assert changes_of(credit) == ["created", "withdrawn"]


def test_withdrawing_twice_changes_nothing_the_second_time(report, alice):
    credit = ensure_reporter_credit(report)
    withdraw_credit(credit=credit, reason="She asked not to be credited at all.", actor=alice)

    withdraw_credit(credit=credit, reason="Clicked twice", actor=alice)

    assert changes_of(credit) == ["created", "withdrawn"]
    assert AuditEvent.objects.filter(event=Event.CREDIT_WITHDRAWN).count() == 1


def test_confirming_twice_records_one_confirmation(report):
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)
    credit.refresh_from_db()

    confirm_credit(credit=credit, actor=reporter_actor(report), seen_version=credit.version)

    assert changes_of(credit) == ["created", "confirmed"]


def test_a_shredded_report_has_no_credits_to_open(report, alice, dave):
    credit = ensure_reporter_credit(report)
    shred_report(report=report, actor=Actor.system(), why=ShredReason.OPERATOR)
    report.refresh_from_db()
    credit.refresh_from_db()

    assert report_credits(report=report, actor=dave) == []
    assert credit_history(credit, dave) == []
