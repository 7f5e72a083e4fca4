"""Planning a publication and reading revisions, where it is refused or where a case is unusual.

The main scheduling and publication paths are in ``test_advisory_publication.py``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from bastion.audit.services import Actor
from bastion.disclosure.models import Advisory, AdvisoryState
from bastion.disclosure.services.advisories import (
    AdvisoryRejected,
    create_advisory,
    open_revision,
    schedule_publication,
    withdraw_advisory,
)
from bastion.disclosure.tests.conftest import embargo_end, full_content
from bastion.reports.models import Message, Visibility
from bastion.reports.services import ShredReason, shred_report
from bastion.reports.services.embargo import grant_access, set_embargo
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("cve_org")]


def told(report) -> int:
    """How many public messages the reporter was sent."""
    return Message.objects.filter(report=report, visibility=Visibility.PUBLIC).count()


def test_a_publication_time_without_a_time_zone_is_refused(draft, alice):
    naive = datetime.now() + timedelta(days=3)

    with pytest.raises(
        AdvisoryRejected, match=re.escape("Give the publication time with its time zone.")
    ) as refused:
        schedule_publication(advisory=draft, actor=alice, publish_at=naive)

    assert refused.value.field == "publish_at"
    assert Advisory.objects.get(pk=draft.pk).publish_at is None


def test_a_withdrawn_advisory_has_no_publication_left_to_plan(draft, alice, dave):
    withdraw_advisory(advisory=draft, actor=dave, reason="Merged into another advisory.")
    draft.refresh_from_db()

    with pytest.raises(AdvisoryRejected, match="is already withdrawn; there is no publication left to plan"):
        schedule_publication(advisory=draft, actor=alice, publish_at=timezone.now() + timedelta(days=3))


def test_an_override_reason_past_the_limit_is_refused(draft, report, alice, dave):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)
    grant_access(report=report, user=dave, actor=alice)

    with pytest.raises(
        AdvisoryRejected, match=re.escape("Keep the reason under 2,000 characters.")
    ) as refused:
        schedule_publication(
            advisory=draft, actor=dave, publish_at=ends - timedelta(days=1), override_reason="x" * 2001
        )

    assert refused.value.field == "override_reason"
    assert Advisory.objects.get(pk=draft.pk).override_by is None


def test_planning_at_the_embargo_end_after_an_override_drops_the_override(draft, report, alice, dave):
    ends = embargo_end()
    set_embargo(report=report, ends_at=ends, reason="Fix ships with 7.1.3.1", actor=alice)
    grant_access(report=report, user=dave, actor=alice)
    schedule_publication(
        advisory=draft,
        actor=dave,
        publish_at=ends - timedelta(days=1),
        override_reason="Exploited in the wild; customers must patch now",
    )

    schedule_publication(advisory=draft, actor=dave, publish_at=ends)

    draft.refresh_from_db()
    assert draft.publish_at == ends
    assert (draft.override_by, draft.override_reason, draft.override_embargo_ends_at) == (None, None, None)


def test_the_reporter_of_a_shredded_report_is_not_written_to(draft, report, alice):
    before = told(report)
    shred_report(report=report, actor=Actor.system(), why=ShredReason.OPERATOR)
    at = timezone.now() + timedelta(days=3)

    schedule_publication(advisory=draft, actor=alice, publish_at=at)

    assert Advisory.objects.get(pk=draft.pk).publish_at == at
    assert told(report) == before


def test_an_advisory_needs_at_least_one_report(alice):
    with pytest.raises(
        AdvisoryRejected, match=re.escape("Choose at least one report for the advisory.")
    ) as refused:
        create_advisory(reports=[], content=full_content(), actor=alice)
    assert refused.value.field == "reports"
    assert not Advisory.objects.exists()


def test_a_revision_opens_by_its_number_and_a_missing_one_is_named(draft, alice):
    assert open_revision(advisory=draft, number=1, actor=alice) == full_content()
    with pytest.raises(AdvisoryRejected, match=f"{draft.identifier} has no revision 9."):
        open_revision(advisory=draft, number=9, actor=alice)
    assert Advisory.objects.get(pk=draft.pk).state == AdvisoryState.DRAFT
