"""rita's choices on the portal: her OpenPGP key, her time zone, and asking for deletion.

Her credit is test_credit.py's.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from django.utils import dateformat
from django.utils.timezone import localtime

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import link, visible_text
from bastion.reports.errors import ReportRejected
from bastion.reports.services.submission import clean_public_key

pytestmark = pytest.mark.django_db

NOT_A_KEY = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nnot really a key\n-----END PGP PUBLIC KEY BLOCK-----\n"


def shown(at, zone: str) -> str:
    return dateformat.format(localtime(at, ZoneInfo(zone)), "j M Y, H:i")


def test_a_bad_key_shows_the_specific_error_and_keeps_the_text(client, report):
    with pytest.raises(ReportRejected) as refused:
        clean_public_key(NOT_A_KEY)
    reason = refused.value.message_dict["public_key"][0]

    response = client.post(link(report, "public_key"), {"public_key": NOT_A_KEY})

    assert response.status_code == 400
    page = response.content.decode()
    assert reason.replace("'", "&#x27;").replace('"', "&quot;") in page
    assert "not really a key" in page
    assert not AuditEvent.objects.filter(event=Event.REPORTER_UPDATED).exists()


def test_a_good_key_is_saved_and_its_fingerprint_shown(client, report, rita_key):
    response = client.post(link(report, "public_key"), {"public_key": rita_key.armored_public()})

    assert response.status_code == 303
    report.reporter.refresh_from_db()
    assert report.reporter.has_public_key
    assert rita_key.fingerprint in client.get(link(report)).content.decode()

    client.post(link(report, "public_key"), {"public_key": "", "remove": "1"})
    report.reporter.refresh_from_db()
    assert not report.reporter.has_public_key


def test_an_empty_key_without_remove_asks_for_one(client, report):
    response = client.post(link(report, "public_key"), {"public_key": "  "})

    assert response.status_code == 400
    assert "Paste your public key" in response.content.decode()


def test_changing_the_time_zone_changes_the_times_shown(client, report):
    received = report.received_at
    before = client.get(link(report)).content.decode()
    assert shown(received, "UTC") in before
    assert shown(received, "Asia/Tokyo") not in before

    response = client.post(link(report, "time_zone"), {"time_zone": "Asia/Tokyo"})

    assert response.status_code == 303
    after = client.get(link(report)).content.decode()
    assert shown(received, "Asia/Tokyo") in after
    assert "Asia/Tokyo" in after


def test_an_unknown_time_zone_is_refused(client, report):
    response = client.post(link(report, "time_zone"), {"time_zone": "Mars/Olympus_Mons"})

    assert response.status_code == 400
    report.reporter.refresh_from_db()
    assert report.reporter.time_zone == "UTC"


def test_deletion_is_confirmed_first_then_recorded(client, report):
    confirm = client.get(link(report, "deletion"))
    assert confirm.status_code == 200
    assert "Request deletion of your report" in confirm.content.decode()

    unconfirmed = client.post(link(report, "deletion"), {})
    assert unconfirmed.status_code == 400
    assert "Tick the box to confirm" in unconfirmed.content.decode()
    report.refresh_from_db()
    assert report.deletion_requested_at is None

    response = client.post(link(report, "deletion"), {"confirm": "on"})

    assert response.status_code == 303
    report.refresh_from_db()
    assert report.deletion_requested_at is not None
    row = AuditEvent.objects.get(event=Event.DELETION_REQUESTED)
    assert (row.actor_kind, row.actor_id) == (ActorKind.REPORTER, report.pk)
    assert "You asked for this report to be deleted." in visible_text(client.get(link(report)))
