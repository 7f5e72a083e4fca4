"""The admin audit log and embargoes: every event listed, an embargoed report named to no one not granted.

alice sets the embargo (so she is granted); dave is the security lead, an admin, and not granted
until alice grants him. The audit screen is for admins only, so dave is the reader throughout.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Target, record
from bastion.reports.models import Report
from bastion.reports.services._shared import reporter_actor
from bastion.reports.services.duplicates import find_duplicate_candidates
from bastion.reports.services.embargo import grant_access, lift_embargo, set_embargo
from bastion.reports.tests.conftest import private_vault, submit  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

URL = reverse("audit:events")
MASK = "a report under embargo"


@pytest.fixture
def embargoed(submit, alice) -> Report:  # noqa: F811  (the imported fixture)
    """A report under embargo, mentioned by tracking ID in the data of its submission row."""
    report = submit().report
    set_embargo(report=report, ends_at=timezone.now() + timedelta(days=10), reason="Fix first", actor=alice)
    return report


def reference(report: Report) -> str:
    return f"reports.report:{report.pk}"


def test_an_admin_not_granted_sees_every_row_with_the_report_masked(embargoed, client_as, dave):
    rows_about_it = AuditEvent.objects.filter(target_type="reports.report", target_id=str(embargoed.pk))

    response = client_as(dave).get(URL)

    body = response.content.decode()
    assert embargoed.tracking_id not in body
    assert reference(embargoed) not in body
    shown = {row.event.pk: row for row in response.context["rows"]}
    assert set(rows_about_it.values_list("pk", flat=True)) <= set(shown)  # masked, never dropped
    assert {shown[pk].target for pk in rows_about_it.values_list("pk", flat=True)} == {MASK}
    submitted = rows_about_it.get(event=Event.REPORT_SUBMITTED)
    assert f'"tracking_id":"({MASK})"' in shown[submitted.pk].details
    viewed = AuditEvent.objects.filter(event=Event.AUDIT_VIEWED).get()
    assert viewed.data["concealed"] == rows_about_it.count()


def test_mentions_in_other_reports_rows_are_masked_too(embargoed, submit, client_as, alice, dave):  # noqa: F811
    twin = submit().report
    find_duplicate_candidates(report=twin, actor=alice)  # its row lists candidates by tracking ID
    searched = AuditEvent.objects.get(event=Event.DUPLICATES_SEARCHED)
    assert embargoed.tracking_id in searched.data["candidates"]

    body = client_as(dave).get(URL).content.decode()

    assert embargoed.tracking_id not in body
    assert twin.tracking_id in body
    assert reference(twin) in body


def test_granted_staff_see_the_report_named(embargoed, client_as, alice, dave):
    grant_access(report=embargoed, user=dave, actor=alice)

    body = client_as(dave).get(URL).content.decode()

    assert embargoed.tracking_id in body
    assert reference(embargoed) in body
    assert MASK not in body.replace("A report under embargo that you are not granted on", "")


def test_once_the_embargo_is_lifted_the_log_names_it_to_every_admin(embargoed, client_as, alice, dave):
    lift_embargo(embargo=embargoed.embargo, actor=alice, reason="Fixed and published")

    body = client_as(dave).get(URL).content.decode()

    assert embargoed.tracking_id in body
    assert reference(embargoed) in body


def test_the_reporter_acting_is_not_named_by_their_report(embargoed, client_as, dave):
    # A reporter's rows carry "reporter of BST-..." and the report's id as the actor.
    record(event=Event.REPORTER_UPDATED, actor=reporter_actor(embargoed), target=Target("demo.other", "1"))

    response = client_as(dave).get(URL)

    assert embargoed.tracking_id not in response.content.decode()
    [row] = [row for row in response.context["rows"] if row.event.event == Event.REPORTER_UPDATED]
    assert row.actor == f"reporter of ({MASK})"
    assert row.actor_id == ""


def test_a_search_by_the_hidden_report_finds_nothing(embargoed, client_as, dave):
    record(event=Event.REPORTER_UPDATED, actor=reporter_actor(embargoed), target=Target("demo.other", "1"))
    reader = client_as(dave)

    by_target = reader.get(URL, {"target_type": "reports.report", "target_id": str(embargoed.pk)})
    by_id = reader.get(URL, {"target_id": str(embargoed.pk)})
    by_actor = reader.get(URL, {"actor": embargoed.tracking_id})

    assert by_target.context["rows"] == []
    assert [row for row in by_id.context["rows"] if row.target_hidden] == []
    assert by_actor.context["rows"] == []


def test_granted_staff_find_it_by_search(embargoed, client_as, alice, dave):
    grant_access(report=embargoed, user=dave, actor=alice)

    found = client_as(dave).get(URL, {"target_type": "reports.report", "target_id": str(embargoed.pk)})

    assert found.context["rows"]
    assert {row.target for row in found.context["rows"]} == {reference(embargoed)}
