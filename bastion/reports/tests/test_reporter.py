"""The reporter's choices (credit, key, time zone), deletion requests and finding reports by address."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports import identifiers
from bastion.reports.errors import ReportRejected
from bastion.reports.models import CreditPreference, TimelineEntry, TimelineKind
from bastion.reports.services import (
    open_report,
    reporter_actor,
    reports_for_email,
    request_deletion,
    update_reporter,
)
from bastion.test import rita

pytestmark = pytest.mark.django_db


def test_the_reporter_adds_a_key_and_changes_credit_and_time_zone(submit, alice, rita_key):
    report = submit().report

    update_reporter(
        report=report,
        actor=reporter_actor(report),
        public_key=rita_key.public,
        credit_preference="handle",
        time_zone="Europe/Paris",
    )

    report.refresh_from_db()
    opened = open_report(report=report, actor=alice).reporter
    assert opened.public_key_fingerprint == rita_key.fingerprint
    assert (opened.credit_preference, opened.time_zone) == (CreditPreference.HANDLE, "Europe/Paris")
    fields = ["credit_preference", "public_key", "time_zone"]
    assert AuditEvent.objects.get(event=Event.REPORTER_UPDATED).data == {"fields": fields}
    assert TimelineEntry.objects.get(kind=TimelineKind.REPORTER_UPDATED).data == {"fields": fields}
    assert rita_key.fingerprint not in str(AuditEvent.objects.values_list("data", flat=True))


def test_an_empty_key_removes_it_and_unchanged_values_change_nothing(submit, rita_key):
    report = submit(public_key=rita_key.public).report
    assert report.reporter.has_public_key

    update_reporter(report=report, actor=reporter_actor(report), public_key="")
    update_reporter(report=report, actor=reporter_actor(report), time_zone="UTC", public_key="")

    report.reporter.refresh_from_db()
    assert not report.reporter.has_public_key
    assert AuditEvent.objects.filter(event=Event.REPORTER_UPDATED).count() == 1


def test_a_bad_update_names_its_field_and_changes_nothing(submit):
    report = submit(reporter_handle="").report
    actor = reporter_actor(report)

    for fields, field in [
        ({"public_key": "hello"}, "public_key"),
        ({"credit_preference": "handle"}, "credit_preference"),
        ({"time_zone": "Nowhere/Land", "credit_preference": "anonymous"}, "time_zone"),
    ]:
        with pytest.raises(ReportRejected) as caught:
            update_reporter(report=report, actor=actor, **fields)
        assert caught.value.field == field

    report.reporter.refresh_from_db()
    assert report.reporter.credit_preference == CreditPreference.NAME
    assert not AuditEvent.objects.filter(event=Event.REPORTER_UPDATED).exists()


def test_it_rejects_other_reporters_and_viewers(submit, charlie):
    report = submit().report
    other = submit().report

    for outsider in (reporter_actor(other), charlie, None):
        with pytest.raises(PermissionDenied):
            update_reporter(report=report, actor=outsider, time_zone="Europe/Paris")
        with pytest.raises(PermissionDenied):
            request_deletion(report=report, actor=outsider)


def test_a_deletion_request_is_recorded_once(submit):
    report = submit().report

    request_deletion(report=report, actor=reporter_actor(report))
    first = report.deletion_requested_at
    request_deletion(report=report, actor=reporter_actor(report))

    assert first is not None
    assert report.deletion_requested_at == first
    assert AuditEvent.objects.filter(event=Event.DELETION_REQUESTED).count() == 1
    assert TimelineEntry.objects.filter(kind=TimelineKind.DELETION_REQUESTED, public=True).count() == 1


def test_reports_are_found_by_address_through_a_keyed_digest(submit, settings):
    mine = [submit().report, submit().report]
    submit(email="other@example.org")
    submit(email="")

    found = reports_for_email(f" {rita.email.upper()}")

    assert {r.pk for r in found} == {r.pk for r in mine}
    digest = mine[0].reporter.email_digest
    assert rita.email not in digest
    assert digest == identifiers.email_digest(rita.email)
    # Not a plain hash: without SECRET_KEY the digest of a guessed address cannot be computed.
    old_secret = settings.SECRET_KEY
    settings.SECRET_KEY = "another-instance-secret-key-0123456789-abcdefghij"
    assert identifiers.email_digest(rita.email) != digest
    assert reports_for_email(rita.email) == []
    # After a rotation, the retired secret still finds the reports.
    settings.SECRET_KEY_FALLBACKS = [old_secret]
    assert len(reports_for_email(rita.email)) == 2
