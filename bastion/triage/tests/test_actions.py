"""The three forms on a report page: a public reply, an internal note, a status change."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.errors import ReportRejected
from bastion.reports.models import Message, Status, Visibility
from bastion.reports.services import change_status, open_report
from bastion.reports.workflow import allowed_next
from bastion.test import rita

REPLY_TEXT = "Could you retest on 4.3? SECRET-REPLY-7b1c"


def url(name: str, report) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id])


def test_a_reply_is_public_and_the_reporter_is_emailed_without_its_text(
    client_as, alice, report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(alice).post(url("reply", report), {"body": REPLY_TEXT})

    assert response.status_code == 303
    assert response["Location"] == url("report", report) + "#conversation"
    (message,) = Message.objects.filter(report=report)
    assert message.visibility == Visibility.PUBLIC
    assert message.author == alice
    (sent,) = mail.outbox
    assert sent.to == [rita.email]
    assert "SECRET-REPLY" not in sent.message().as_string()
    assert AuditEvent.objects.filter(event=Event.MESSAGE_POSTED, actor_id=alice.pk).count() == 1


def test_a_reply_can_carry_files(client_as, alice, report, django_capture_on_commit_callbacks):
    files = [SimpleUploadedFile("patch.diff", b"--- a\n+++ b\n"), SimpleUploadedFile("log.txt", b"log")]

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(alice).post(url("reply", report), {"body": "", "attachments": files})

    assert response.status_code == 303
    message = Message.objects.get(report=report)
    assert message.attachments.count() == 2


def test_an_empty_reply_is_refused_with_a_clear_error(client_as, alice, report):
    response = client_as(alice).post(url("reply", report), {"body": "   "})

    assert response.status_code == 400
    assert "Write a reply or attach a file." in response.content.decode()
    assert not Message.objects.filter(report=report).exists()


def test_a_reply_the_service_refuses_keeps_the_text_and_says_why(client_as, alice, report):
    too_long = "x" * 100_001

    response = client_as(alice).post(url("reply", report), {"body": too_long})

    assert response.status_code == 400
    assert "the limit is 100,000" in response.content.decode()
    assert not Message.objects.filter(report=report).exists()


def test_an_internal_note_stays_internal_and_mails_no_one(
    client_as, alice, report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(alice).post(url("note", report), {"body": "Reproduced on staging."})

    assert response.status_code == 303
    (message,) = Message.objects.filter(report=report)
    assert message.visibility == Visibility.INTERNAL
    assert mail.outbox == []


def test_an_empty_note_is_refused_with_a_clear_error(client_as, alice, report):
    response = client_as(alice).post(url("note", report), {"body": ""})

    assert response.status_code == 400
    assert "Write the note first." in response.content.decode()


def test_the_status_select_offers_only_the_allowed_moves_but_duplicate(client_as, alice, report):
    form = client_as(alice).get(url("report", report)).context["status_form"]

    # A duplicate names its original: that move is the duplicates panel's, with its explanation.
    offered = [value for value, _ in form.fields["to"].choices]
    assert offered == [status.value for status in allowed_next(Status.NEW) if status != Status.DUPLICATE]


def test_a_duplicate_without_an_original_is_refused(alice, report):
    with pytest.raises(ReportRejected, match="names the report it duplicates"):
        change_status(report=report, to=Status.DUPLICATE, actor=alice)


def test_a_status_change_follows_the_table_and_keeps_its_note_internal(client_as, alice, report):
    form = {"to": "triaged", "note": "Confirmed.", "reporter_message": "We reproduced it.", "version": 1}
    response = client_as(alice).post(url("status", report), {**form, "notify_reporter": "on"})

    assert response.status_code == 303
    report.refresh_from_db()
    assert report.status == Status.TRIAGED
    assert [m.visibility for m in Message.objects.filter(report=report)] == [
        Visibility.PUBLIC,
        Visibility.INTERNAL,
    ]
    assert AuditEvent.objects.filter(event=Event.REPORT_STATUS_CHANGED).count() == 1


def test_an_empty_message_sends_the_default_canned_response(client_as, alice, report):
    form = {"to": "triaged", "version": 1, "notify_reporter": "on"}
    client_as(alice).post(url("status", report), form)

    opened = open_report(report=report, actor=alice)
    assert "We have reproduced the issue in your report" in opened.messages[0].body
    assert report.tracking_id in opened.messages[0].body


def test_a_status_change_can_be_made_without_telling_the_reporter(client_as, alice, report):
    client_as(alice).post(url("status", report), {"to": "spam", "version": 1})

    report.refresh_from_db()
    assert report.status == Status.SPAM
    assert not Message.objects.filter(report=report).exists()
    assert mail.outbox == []


def test_the_status_form_offers_the_canned_responses_for_each_move(client_as, alice, report):
    page = client_as(alice).get(url("report", report)).content.decode()

    assert 'id="canned-responses"' in page
    assert "We need more information" in page


@pytest.mark.parametrize(("start", "refused"), [(Status.NEW, Status.RESOLVED), (Status.SPAM, Status.TRIAGED)])
def test_a_move_the_table_refuses_shows_an_error_and_changes_nothing(
    client_as, alice, report, start, refused
):
    if start != Status.NEW:
        change_status(report=report, to=start, actor=alice)

    response = client_as(alice).post(url("status", report), {"to": refused, "version": report.version})

    assert response.status_code == 400
    assert "cannot move from" in response.content.decode()
    report.refresh_from_db()
    assert report.status == start


def test_a_status_that_does_not_exist_is_refused(client_as, alice, report):
    response = client_as(alice).post(url("status", report), {"to": "pwned"})

    assert response.status_code == 400
    report.refresh_from_db()
    assert report.status == Status.NEW


def test_a_page_gone_stale_is_told_and_nothing_is_overwritten(client_as, alice, bob, report):
    # bob's page was rendered while the report was new (version 1); alice closed it as spam meanwhile.
    change_status(report=report, to=Status.SPAM, actor=alice)

    response = client_as(bob).post(url("status", report), {"to": "triaged", "version": 1})

    assert response.status_code == 409
    assert "Someone else changed this report" in response.content.decode()
    report.refresh_from_db()
    assert report.status == Status.SPAM


def test_a_large_upload_is_kept_whole(client_as, alice, report):
    upload = SimpleUploadedFile("big.bin", b"\x00" * 300_000, content_type="application/x-evil; a=b")

    client_as(alice).post(url("reply", report), {"body": "see file", "attachments": [upload]})

    stored = Message.objects.get(report=report).attachments.get()
    assert stored.size == 300_000
