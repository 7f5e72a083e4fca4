"""The staff API under an embargo: a visible duplicate does not name an original hidden by one."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from bastion.reports.services.duplicates import mark_duplicate
from bastion.reports.services.embargo import set_embargo
from bastion.triage.tests.test_staff_api import call, token_for

pytestmark = pytest.mark.django_db


def test_a_duplicate_names_its_original_only_to_staff_who_may_see_the_original(alice, bob, submit):
    original = submit(title="The first report").report
    duplicate = submit(title="The same flaw again").report
    mark_duplicate(report=duplicate, original=original, actor=alice)
    ends_at = timezone.now() + timedelta(days=30)
    set_embargo(report=original, ends_at=ends_at, reason="Fix pending", actor=alice)

    as_alice = call("GET", f"/reports/{duplicate.tracking_id}", token_for(alice)).json()
    as_bob = call("GET", f"/reports/{duplicate.tracking_id}", token_for(bob))

    assert as_alice["duplicate_of"] == original.tracking_id
    assert as_bob.status_code == 200
    # (The message that told the duplicate's reporter which report came first still names it: that
    # was said before the embargo, to someone outside it.)
    assert as_bob.json()["duplicate_of"] is None
