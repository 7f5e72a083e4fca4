"""The report page and file downloads: decrypted for staff, and every opening on the audit trail."""

from __future__ import annotations

from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Visibility
from bastion.reports.services import post_message
from bastion.reports.tests.conftest import CANARY, FILE_BYTES, a_file
from bastion.test import rita


def page(report) -> str:
    return reverse("triage:report", args=[report.tracking_id])


def test_it_shows_the_report_decrypted_and_records_the_read(client_as, alice, report):
    response = client_as(alice).get(page(report))

    html = response.content.decode()
    assert f"Invoice export leaks other tenants {CANARY}" in html
    # Markdown is rendered (and sanitised), the plain fields are plain.
    assert "<strong>/export</strong>" in html
    assert "Billing" in html
    assert "4.2" in html
    assert rita.full_name in html
    assert rita.email in html
    (viewed,) = AuditEvent.objects.filter(event=Event.REPORT_VIEWED)
    assert viewed.actor_id == alice.pk
    assert viewed.data == {"scope": "staff"}


def test_it_never_renders_html_from_a_report(client_as, alice, submit):
    report = submit(description="<script>alert(1)</script> [x](javascript:alert(1))").report

    html = client_as(alice).get(page(report)).content.decode()

    assert "<script>alert" not in html
    assert 'href="javascript' not in html


def test_public_messages_and_internal_notes_are_marked_apart(client_as, alice, report):
    post_message(report=report, body="Public words", visibility=Visibility.PUBLIC, actor=alice)
    post_message(report=report, body="Staff-only words", visibility=Visibility.INTERNAL, actor=alice)

    html = client_as(alice).get(page(report)).content.decode()

    assert 'class="msg msg-public"' in html
    assert 'class="msg msg-internal"' in html
    assert "Internal note</span>" in html
    assert html.index("Public words") < html.index("Staff-only words")


def test_the_download_returns_the_same_bytes_as_a_safe_attachment_and_is_recorded(
    client_as, alice, report, attachment
):
    url = reverse("triage:attachment", args=[report.tracking_id, attachment.uid])

    response = client_as(alice).get(url)

    assert b"".join(response.streaming_content) == FILE_BYTES
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"] == f'attachment; filename="poc-{CANARY}.py"'
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in response["Cache-Control"]
    (downloaded,) = AuditEvent.objects.filter(event=Event.ATTACHMENT_DOWNLOADED)
    assert downloaded.actor_id == alice.pk


def test_a_hostile_file_name_cannot_become_a_path_or_break_the_header(client_as, alice, submit):
    report = submit(attachments=[a_file(name='../../etc/"passwd"')]).report
    url = reverse("triage:attachment", args=[report.tracking_id, report.attachments.get().uid])

    response = client_as(alice).get(url)

    assert response["Content-Disposition"] == 'attachment; filename="_.._etc__passwd_"'


def test_the_timeline_shows_every_step(client_as, alice, report):
    html = client_as(alice).get(page(report)).content.decode()

    assert "Report received" in html
