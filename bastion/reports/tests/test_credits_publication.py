"""Publishing credits: consent first, each person as they chose, duplicates sharing, anonymous never named."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bastion.reports.models.credit import Credit, PublicCredit
from bastion.reports.services import ShredReason, reporter_actor, shred_report
from bastion.reports.services.credits import (
    CreditPerson,
    add_credit,
    choose_credit,
    confirm_credit,
    credits_for_publication,
    ensure_reporter_credit,
    mark_credits_published,
    published_thanks,
    withdraw_credit,
)
from bastion.reports.services.duplicates.marking import mark_duplicate
from bastion.test import rita

pytestmark = pytest.mark.django_db

FIRST = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime(2027, 2, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def report(submit):
    return submit().report


def confirmed(report, **choice) -> Credit:
    credit = ensure_reporter_credit(report)
    if choice:
        choose_credit(credit=credit, actor=reporter_actor(report), **choice)
    return confirm_credit(credit=credit, actor=reporter_actor(report))


def test_an_unconfirmed_reporter_is_a_problem_naming_the_report_never_the_person(report):
    credits, problems = credits_for_publication([report])

    assert credits == []
    assert problems == [
        f"The reporter of {report.tracking_id} has not confirmed how to be credited: ask them to confirm "
        "it in the portal, or withdraw their credit (with a reason) if they cannot be asked."
    ]
    assert rita.full_name not in problems[0]


def test_confirmed_credits_are_published_as_each_person_chose(report, alice):
    confirmed(report, appearance="link", handle="rita", link="https://rita.example")
    add_credit(
        report=report,
        credit_type="remediation developer",
        person=CreditPerson(name="Dev Eloper"),
        appearance="name",
        actor=alice,
    )

    credits, problems = credits_for_publication([report])

    assert problems == []
    assert credits == [
        PublicCredit(name="rita", credit_type="finder", link="https://rita.example"),
        PublicCredit(name="Dev Eloper", credit_type="remediation developer"),
    ]


def test_an_anonymous_credit_is_published_as_anonymous_and_never_named(report):
    confirmed(report, appearance="anonymous", name=rita.full_name, handle="rita")

    credits, _ = credits_for_publication([report])
    mark_credits_published(reports=[report], at=FIRST, actor=None)

    assert credits == [PublicCredit(name="Anonymous", credit_type="finder")]
    credit = Credit.objects.get(report=report)
    assert (credit.published_name, credit.published_link) == ("", "")
    assert [(line.year, line.name) for line in published_thanks()] == [(2026, "")]


def test_a_duplicate_that_shares_credit_adds_its_reporter_to_the_originals_advisory(submit, alice):
    original = submit(title="First").report
    shared = submit(
        title="Second", reporter_name="Sam Second", reporter_handle="sam", email="sam@example.org"
    ).report
    separate = submit(
        title="Third", reporter_name="Tom Third", reporter_handle="tom", email="tom@example.org"
    ).report
    mark_duplicate(report=shared, original=original, actor=alice, share_credit=True)
    mark_duplicate(report=separate, original=original, actor=alice, share_credit=False)
    confirmed(original)

    credits, problems = credits_for_publication([original])
    assert credits == [PublicCredit(name=rita.full_name)]
    assert problems == [
        f"The reporter of {shared.tracking_id} (a duplicate of {original.tracking_id} that shares its "
        "credit) has not confirmed how to be credited: ask them to confirm it in the portal, or "
        "withdraw their credit (with a reason) if they cannot be asked."
    ]

    confirmed(shared)
    credits, problems = credits_for_publication([original])
    assert (credits, problems) == ([PublicCredit(name=rita.full_name), PublicCredit(name="Sam Second")], [])


def test_the_same_public_line_twice_is_listed_once(submit, alice):
    first = submit(title="First").report
    again = submit(title="Again").report  # rita again, the same flaw
    mark_duplicate(report=again, original=first, actor=alice, share_credit=True)
    confirmed(first)
    confirmed(again)

    credits, _ = credits_for_publication([first])

    assert credits == [PublicCredit(name=rita.full_name)]


def test_publishing_copies_the_public_form_and_keeps_the_first_publication_date(report):
    credit = confirmed(report)

    assert mark_credits_published(reports=[report], at=FIRST, actor=None) == 1
    choose_credit(credit=credit, appearance="handle", handle="rita", actor=reporter_actor(report))
    credit.refresh_from_db()
    assert credit.published_name == rita.full_name  # what was confirmed stays public until she confirms
    confirm_credit(credit=credit, actor=reporter_actor(report))
    assert mark_credits_published(reports=[report], at=LATER, actor=None) == 0  # already as confirmed

    credit.refresh_from_db()
    assert (credit.published_at, credit.published_name) == (FIRST, "rita")
    assert [(line.year, line.name) for line in published_thanks()] == [(2026, "rita")]


def test_unconfirmed_and_withdrawn_credits_are_not_published(report, alice):
    own = ensure_reporter_credit(report)
    add_credit(
        report=report, credit_type="analyst", person=CreditPerson(name="Ana"), appearance="name", actor=alice
    )
    gone = add_credit(
        report=report,
        credit_type="coordinator",
        person=CreditPerson(name="Co"),
        appearance="name",
        actor=alice,
    )
    withdraw_credit(credit=gone, reason="Not involved after all.", actor=alice)

    assert mark_credits_published(reports=[report], at=FIRST, actor=alice) == 1

    own.refresh_from_db()
    gone.refresh_from_db()
    assert (own.published_at, gone.published_at) == (None, None)
    assert Credit.objects.filter(published_at__isnull=False).get().published_name == "Ana"


def test_a_shredded_reports_credits_are_left_out_silently(submit, alice, dave):
    original = submit(title="First").report
    shared = submit(title="Second", reporter_name="Sam Second", email="sam@example.org").report
    mark_duplicate(report=shared, original=original, actor=alice, share_credit=True)
    confirmed(original)
    ensure_reporter_credit(shared)
    shred_report(report=shared, actor=dave, why=ShredReason.DELETION_REQUEST)

    assert credits_for_publication([original]) == ([PublicCredit(name=rita.full_name)], [])


def test_the_hall_of_thanks_lists_finders_and_reporters_only(report, alice):
    confirmed(report)
    add_credit(
        report=report,
        credit_type="coordinator",
        person=CreditPerson(name="Coord"),
        appearance="name",
        actor=alice,
    )
    mark_credits_published(reports=[report], at=FIRST, actor=alice)

    assert [line.name for line in published_thanks()] == [rita.full_name]
