"""Every portal endpoint refuses a link that is not the report's own, changes nothing, and says so."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import bad_link, link
from bastion.reports.models import Message

pytestmark = pytest.mark.django_db


def assert_rejected(response) -> None:
    assert response.status_code == 404
    assert "This link is not valid or has been replaced." in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert AuditEvent.objects.filter(event=Event.PORTAL_TOKEN_REJECTED).count() == 1
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_rejects_a_reply_with_a_wrong_token(client, report):
    upload = SimpleUploadedFile("x.txt", b"x")
    assert_rejected(client.post(bad_link(report, "reply"), {"body": "hello", "attachments": [upload]}))
    assert not Message.objects.exists()


def test_it_rejects_a_download_with_a_wrong_token(client, report):
    attachment = report.attachments.get()
    assert_rejected(client.get(bad_link(report, "download", attachment.uid)))
    assert not AuditEvent.objects.filter(event=Event.ATTACHMENT_DOWNLOADED).exists()


def test_it_rejects_a_credit_change_with_a_wrong_token(client, report):
    assert_rejected(client.post(bad_link(report, "credit"), {"credit_preference": "anonymous"}))
    report.reporter.refresh_from_db()
    assert report.reporter.credit_preference == "name"


def test_it_rejects_a_key_update_with_a_wrong_token(client, report):
    assert_rejected(client.post(bad_link(report, "public_key"), {"public_key": "", "remove": "1"}))


def test_it_rejects_a_time_zone_change_with_a_wrong_token(client, report):
    assert_rejected(client.post(bad_link(report, "time_zone"), {"time_zone": "Asia/Tokyo"}))
    report.reporter.refresh_from_db()
    assert report.reporter.time_zone == "UTC"


def test_it_rejects_a_deletion_request_with_a_wrong_token(client, report):
    assert_rejected(client.post(bad_link(report, "deletion"), {"confirm": "on"}))
    report.refresh_from_db()
    assert report.deletion_requested_at is None


def test_it_rejects_the_deletion_page_with_a_wrong_token(client, report):
    assert_rejected(client.get(bad_link(report, "deletion")))


def test_it_rejects_the_wrong_method(client, report):
    assert client.get(link(report, "reply")).status_code == 405
    assert client.post(link(report), {}).status_code == 405
    assert client.get(link(report, "download", uuid.uuid4())).status_code == 404
