"""Reading a report and its files: staff reads are audited, reporters see only what is theirs."""

from __future__ import annotations

import hashlib

import pytest
from django.core.exceptions import PermissionDenied

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.errors import ReportRejected
from bastion.reports.models import AuthorKind, TimelineEntry, TimelineKind, Visibility
from bastion.reports.services import open_attachment, open_report, post_message, reporter_actor
from bastion.reports.tests.conftest import CANARY, FILE_BYTES, a_file, blob_files
from bastion.test import rita
from bastion.vault.errors import KeyDestroyed, SealError
from bastion.vault.storage import FileSystemBlobStorage

pytestmark = pytest.mark.django_db


def test_a_triager_opens_everything_and_the_read_is_audited(submit, alice):
    report = submit(attachments=[a_file()]).report
    post_message(report=report, body=f"Internal: {CANARY}", visibility=Visibility.INTERNAL, actor=alice)

    opened = open_report(report=report, actor=alice, ip="203.0.113.5")

    assert CANARY in opened.title
    assert opened.description.startswith("The **/export** endpoint")
    assert (opened.product, opened.version) == ("Billing", "4.2")
    assert opened.reporter.email == rita.email
    assert opened.reporter.name == rita.full_name
    assert [m.body for m in opened.messages] == [f"Internal: {CANARY}"]
    assert [a.size for a in opened.attachments] == [len(FILE_BYTES)]
    event = AuditEvent.objects.filter(event=Event.REPORT_VIEWED).get()
    assert (event.actor_id, event.target_id, event.ip) == (alice.pk, str(report.pk), "203.0.113.5")
    assert event.data == {"scope": "staff"}
    assert CANARY not in repr(opened)


def test_every_read_is_a_new_audit_row(submit, alice, dave):
    report = submit().report
    open_report(report=report, actor=alice)
    open_report(report=report, actor=alice)
    open_report(report=report, actor=dave)

    assert AuditEvent.objects.filter(event=Event.REPORT_VIEWED).count() == 3


def test_the_reporter_sees_public_messages_and_files_but_not_internal_notes(submit, alice):
    report = submit().report
    post_message(report=report, body="Thanks, looking.", visibility="public", actor=alice)
    post_message(
        report=report, body="Looks bad", visibility="internal", actor=alice, attachments=[a_file(b"log")]
    )
    post_message(report=report, body="More detail", visibility="public", actor=reporter_actor(report))

    opened = open_report(report=report, actor=reporter_actor(report))

    assert [(m.message.author_kind, m.body) for m in opened.messages] == [
        (AuthorKind.STAFF, "Thanks, looking."),
        (AuthorKind.REPORTER, "More detail"),
    ]
    assert AuditEvent.objects.get(event=Event.REPORT_VIEWED).data == {"scope": "reporter"}
    public_timeline = TimelineEntry.objects.public().filter(report=report).values_list("kind", flat=True)
    assert list(public_timeline) == [TimelineKind.SUBMITTED, TimelineKind.MESSAGE, TimelineKind.MESSAGE]


def test_it_rejects_viewers_other_reporters_and_strangers(submit, charlie):
    report = submit(attachments=[a_file()]).report
    other = submit().report
    attachment = report.attachments.get()

    for outsider in (charlie, reporter_actor(other), None):
        with pytest.raises(PermissionDenied):
            open_report(report=report, actor=outsider)
        with pytest.raises(PermissionDenied):
            open_attachment(attachment=attachment, actor=outsider)
    assert not AuditEvent.objects.filter(
        event__in=[Event.REPORT_VIEWED, Event.ATTACHMENT_DOWNLOADED]
    ).exists()


def test_a_file_streams_back_byte_identical_and_the_download_is_audited(submit, alice):
    report = submit(attachments=[a_file()]).report
    attachment = report.attachments.get()

    meta, chunks = open_attachment(attachment=attachment, actor=alice)
    data = b"".join(chunks)

    assert data == FILE_BYTES
    assert hashlib.sha256(data).hexdigest() == attachment.sha256 == meta.sha256
    assert meta.filename == f"poc-{CANARY}.py"
    assert meta.content_type == "text/x-python"
    event = AuditEvent.objects.get(event=Event.ATTACHMENT_DOWNLOADED)
    assert event.data == {"size": len(FILE_BYTES)}
    assert event.target_type == "reports.attachment"


def test_the_reporter_can_download_their_files_but_not_those_of_internal_notes(submit, alice):
    report = submit(attachments=[a_file(b"mine")]).report
    post_message(
        report=report, body="note", visibility="internal", actor=alice, attachments=[a_file(b"staff")]
    )
    mine, internal = report.attachments.order_by("id")

    assert b"".join(open_attachment(attachment=mine, actor=reporter_actor(report)).chunks) == b"mine"
    with pytest.raises(PermissionDenied):
        open_attachment(attachment=internal, actor=reporter_actor(report))
    assert b"".join(open_attachment(attachment=internal, actor=alice).chunks) == b"staff"


def test_a_tampered_blob_does_not_open(submit, alice, private_vault):
    report = submit(attachments=[a_file()]).report
    attachment = report.attachments.get()
    path = FileSystemBlobStorage.from_settings().path(attachment.blob_name)
    data = bytearray(path.read_bytes())
    data[-5] ^= 1
    path.write_bytes(bytes(data))

    with pytest.raises(SealError):
        b"".join(open_attachment(attachment=attachment, actor=alice).chunks)


def test_a_reply_with_files_is_sealed_stored_and_audited(submit, alice, private_vault):
    report = submit().report

    message = post_message(
        report=report, body="Here is the log", visibility="public", actor=reporter_actor(report),
        attachments=[a_file(b"log line " + CANARY.encode())],
    )  # fmt: skip

    assert message.author_kind == AuthorKind.REPORTER
    assert message.author is None
    assert CANARY.encode() not in bytes(message.body)
    assert len(blob_files(private_vault)) == 1
    assert AuditEvent.objects.get(event=Event.MESSAGE_POSTED).data == {
        "visibility": "public",
        "author_kind": "reporter",
        "attachments": 1,
    }
    assert AuditEvent.objects.filter(event=Event.ATTACHMENT_ADDED).count() == 1


def test_the_reporter_cannot_write_internal_notes_and_viewers_cannot_write_at_all(submit, charlie):
    report = submit().report

    with pytest.raises(ReportRejected) as caught:
        post_message(report=report, body="psst", visibility="internal", actor=reporter_actor(report))
    assert caught.value.field == "visibility"
    with pytest.raises(PermissionDenied):
        post_message(report=report, body="hi", visibility="public", actor=charlie)


def test_an_empty_message_is_refused(submit, alice):
    report = submit().report

    with pytest.raises(ReportRejected) as caught:
        post_message(report=report, body="  \n ", visibility="public", actor=alice)
    assert caught.value.field == "body"


def test_bastion_itself_can_post_a_note_and_a_shredded_report_no_longer_opens(submit, alice):
    report = submit().report

    for actor in (None, Actor.system()):
        message = post_message(report=report, body="Kept for staff.", visibility="internal", actor=actor)
        assert message.author_kind == AuthorKind.SYSTEM
    with pytest.raises(PermissionDenied):
        post_message(report=report, body="hi", visibility="public", actor=Actor.anonymous())
    report.data_key.shred()

    with pytest.raises(KeyDestroyed):
        open_report(report=report, actor=alice)
