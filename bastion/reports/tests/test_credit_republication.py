"""A staff correction or withdrawal of a credit already published says the advisory must follow; before, not.

The history (``CreditChange``) is what tells staff an advisory's exports name a credit as it no
longer stands, so the note must come with every staff change to a published credit and only then.
"""

from __future__ import annotations

import pytest
from django.utils import timezone

from bastion.reports.models.credit import Credit
from bastion.reports.services import reporter_actor
from bastion.reports.services.credits import (
    confirm_credit,
    correct_credit,
    credit_history,
    ensure_reporter_credit,
    mark_credits_published,
    withdraw_credit,
)

pytestmark = pytest.mark.django_db

REPUBLISH = "The credit was published before this change: republish the advisory so its exports follow."


@pytest.fixture
def confirmed(submit) -> Credit:
    """rita's own credit on her report, confirmed by her."""
    report = submit().report
    credit = ensure_reporter_credit(report)
    confirm_credit(credit=credit, actor=reporter_actor(report))
    credit.refresh_from_db()
    return credit


@pytest.fixture
def published(confirmed, alice) -> Credit:
    """``confirmed``, published with an advisory."""
    mark_credits_published(reports=[confirmed.report], at=timezone.now(), actor=alice)
    confirmed.refresh_from_db()
    return confirmed


def actions(credit: Credit) -> list[str]:
    return [change.action for change in credit.changes.order_by("id")]


def correct(credit: Credit, actor) -> None:
    correct_credit(
        credit=credit,
        changes={"appearance": "handle"},
        reason="Agreed by mail.",
        actor=actor,
        seen_version=credit.version,
    )


def withdraw(credit: Credit, actor) -> None:
    withdraw_credit(
        credit=credit, reason="Not a security issue after all.", actor=actor, seen_version=credit.version
    )


@pytest.mark.parametrize(("change", "action"), [(correct, "corrected"), (withdraw, "withdrawn")])
def test_a_staff_change_to_a_published_credit_asks_for_republication(published, alice, change, action):
    change(published, alice)

    *_, changed, note = credit_history(published, alice)
    assert (changed.action, note.action, note.actor) == (action, "republish", alice.email)
    assert note.reason == REPUBLISH


@pytest.mark.parametrize(("change", "action"), [(correct, "corrected"), (withdraw, "withdrawn")])
def test_a_staff_change_to_an_unpublished_credit_asks_for_nothing_more(confirmed, alice, change, action):
    change(confirmed, alice)

    assert actions(confirmed)[-1] == action
    assert "republish" not in actions(confirmed)
