"""rita answers through the portal: text, files, and getting her files back byte for byte."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import FILE_BYTES, link, make_report
from bastion.reports.models import AuthorKind, Message, Visibility

pytestmark = pytest.mark.django_db

HOSTILE_NAME = '../../etc/\x1b[31mpass"wd\r\nSet-Cookie: x=1;\u202etxt.exe'


def test_a_reply_is_a_public_message_that_shows_up(client, report):
    response = client.post(link(report, "reply"), {"body": "More detail: `tenant=3` works too."})

    assert response.status_code == 303
    assert response["Location"] == link(report) + "#conversation"
    message = Message.objects.get(report=report)
    assert (message.visibility, message.author_kind) == (Visibility.PUBLIC, AuthorKind.REPORTER)
    row = AuditEvent.objects.get(event=Event.MESSAGE_POSTED)
    assert (row.actor_kind, row.actor_id) == (ActorKind.REPORTER, report.pk)
    page = client.get(response["Location"]).content.decode()
    assert "More detail: <code>tenant=3</code> works too." in page
    assert "Your message was sent to the security team." in page
    assert ">You<" in page


def test_an_empty_reply_is_refused_with_a_clear_error(client, report):
    response = client.post(link(report, "reply"), {"body": "   \n "})

    assert response.status_code == 400
    assert "Write a message or attach a file before sending." in response.content.decode()
    assert not Message.objects.exists()


def test_a_file_sent_with_a_reply_comes_back_identical_under_a_safe_name(client, report):
    upload = SimpleUploadedFile(HOSTILE_NAME, FILE_BYTES, content_type="text/html")

    response = client.post(link(report, "reply"), {"body": "", "attachments": [upload]})

    assert response.status_code == 303
    attachment = report.attachments.get(message__isnull=False)
    download = client.get(link(report, "download", attachment.uid))
    assert download.status_code == 200
    assert b"".join(download.streaming_content) == FILE_BYTES
    assert download["Content-Type"] == "application/octet-stream"
    assert download["X-Content-Type-Options"] == "nosniff"
    assert download["Cache-Control"] == "no-store"
    disposition = download["Content-Disposition"]
    assert disposition.startswith("attachment; filename")
    for bad in ("/", "\r", "\n", "\x1b", "\u202e", "..", "Set-Cookie: x=1;\u202e"):
        assert bad not in disposition
    row = AuditEvent.objects.get(event=Event.ATTACHMENT_DOWNLOADED)
    assert (row.actor_kind, row.actor_id) == (ActorKind.REPORTER, report.pk)


def test_the_files_of_the_report_itself_download_too(client, report):
    attachment = report.attachments.get(message__isnull=True)

    download = client.get(link(report, "download", attachment.uid))

    assert b"".join(download.streaming_content) == FILE_BYTES
    assert download["Content-Disposition"] == 'attachment; filename="poc.py"'


def test_a_file_of_another_report_is_not_found(client, report):
    other = make_report(email="someone@else.example")
    theirs = other.attachments.get()

    assert client.get(link(report, "download", theirs.uid)).status_code == 404


def test_a_file_over_the_limit_is_refused_by_name_and_nothing_is_posted(client, report, settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 1024
    upload = SimpleUploadedFile("huge.bin", b"x" * 5000)

    response = client.post(link(report, "reply"), {"body": "see file", "attachments": [upload]})

    assert response.status_code == 413
    page = response.content.decode()
    assert "huge.bin" in page
    assert "larger than the limit" in page
    assert "see file" in page  # the text is kept for another try
    assert not Message.objects.exists()
