"""The visibility rule asked every way: the list, a narrowed queryset, the hidden ids, one row, audit.

``reports.access`` answers "which reports may this person see" through several functions; each must
give the same answer for every kind of person, or one staff page would show what another hides.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser

from bastion.accounts.models import User
from bastion.reports.access import (
    hidden_from_audit,
    hidden_report_ids,
    may_see,
    only_visible,
    visible_reports,
)
from bastion.reports.models import Clock, Report
from bastion.reports.services.embargo import set_embargo
from bastion.test import T0


@pytest.fixture
def reports(submit, clock, alice) -> tuple[Report, Report]:
    """Two of rita's reports: the first embargoed by alice (so granted to her alone), the second open."""
    embargoed, plain = submit().report, submit().report
    set_embargo(report=embargoed, ends_at=T0 + timedelta(days=10), reason="Fix ships in 4.3", actor=alice)
    return embargoed, plain


@pytest.fixture
def retired(alice) -> User:
    """A triager whose account was switched off."""
    alice.is_active = False
    alice.save()
    return alice


def seen_every_way(user: User | AnonymousUser) -> list[set[int]]:
    """The ids of the reports ``user`` may see, once per way of asking."""
    every = set(Report.objects.values_list("pk", flat=True))
    return [
        set(visible_reports(user).values_list("pk", flat=True)),
        set(only_visible(Report.objects.all(), user).values_list("pk", flat=True)),
        set(only_visible(Clock.objects.all(), user, via="report").values_list("report", flat=True)),
        every - set(Report.objects.filter(pk__in=hidden_report_ids(user)).values_list("pk", flat=True)),
        {pk for pk in every if may_see(user, Report.objects.get(pk=pk))},
    ]


def test_the_embargo_setter_sees_both_reports_every_way(reports, alice):
    both = {report.pk for report in reports}

    assert seen_every_way(alice) == [both] * 5
    assert hidden_from_audit(alice).targets == frozenset()


@pytest.mark.parametrize("who", ["bob", "dave"])
def test_staff_not_granted_see_only_the_open_report_every_way(reports, who, request):
    embargoed, plain = reports

    assert seen_every_way(request.getfixturevalue(who)) == [{plain.pk}] * 5
    concealed = hidden_from_audit(request.getfixturevalue(who))
    assert concealed.targets == {("reports.report", str(embargoed.pk))}
    assert concealed.words == {embargoed.tracking_id}


@pytest.mark.parametrize("who", ["charlie", "retired", "anonymous"])
def test_viewers_retired_staff_and_strangers_see_nothing_every_way_and_audit_masks_the_embargo(
    reports, who, request
):
    user = AnonymousUser() if who == "anonymous" else request.getfixturevalue(who)
    embargoed, _plain = reports

    assert seen_every_way(user) == [set()] * 5
    assert hidden_from_audit(user).targets == {("reports.report", str(embargoed.pk))}
