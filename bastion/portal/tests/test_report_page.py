"""The report page behind rita's magic link: what she sees, what she never sees, and who is refused."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from bastion.audit.events import ActorKind, Event
from bastion.audit.models import AuditEvent
from bastion.portal.tests.conftest import DESCRIPTION, bad_link, link, visible_text
from bastion.reports.models import Visibility
from bastion.reports.services import IncomingFile, change_status, post_message, rotate_portal_token

pytestmark = pytest.mark.django_db

NOT_VALID = "This link is not valid or has been replaced. Ask for your links again at /security/links."
INTERNAL = "INTERNAL-ONLY-7c41: looks like the billing team's bug"


def test_it_shows_status_timeline_and_public_messages(client, report, alice):
    change_status(report=report, to="triaged", actor=alice)
    post_message(report=report, body="Thanks, **confirmed**.", visibility=Visibility.PUBLIC, actor=alice)

    response = client.get(link(report))

    assert response.status_code == 200
    page = response.content.decode()
    assert report.tracking_id in page
    assert ">Triaged<" in page
    assert "Status changed from New to Triaged." in page
    assert "Thanks, <strong>confirmed</strong>." in page
    assert "Security team" in page
    assert "/export" in page
    assert DESCRIPTION.split("**")[0] in page
    assert "poc.py" in page


def test_it_hides_internal_notes_and_staff_only_files(client, report, alice):
    staff_file = IncomingFile(filename="staff-only.txt", content_type="text/plain", stream=io.BytesIO(b"x"))
    note = post_message(
        report=report, body=INTERNAL, visibility=Visibility.INTERNAL, actor=alice, attachments=[staff_file]
    )

    page = client.get(link(report)).content.decode()

    assert INTERNAL not in page
    assert "staff-only.txt" not in page
    assert "sent you a message" not in page  # the note's timeline entry is not public either
    hidden = note.attachments.get()
    assert client.get(link(report, "download", hidden.uid)).status_code == 404


def test_every_read_is_one_report_viewed_row_by_the_reporter(client, report):
    client.get(link(report))
    client.get(link(report))

    rows = AuditEvent.objects.filter(event=Event.REPORT_VIEWED, target_id=str(report.pk))
    assert rows.count() == 2
    assert {(row.actor_kind, row.actor_id, row.data["scope"]) for row in rows} == {
        (ActorKind.REPORTER, report.pk, "reporter")
    }


def test_its_responses_are_never_cached_or_indexed(client, report):
    for response in (client.get(link(report)), client.get(bad_link(report))):
        assert response["Cache-Control"] == "no-store"
        assert response["X-Robots-Tag"] == "noindex"
        assert response["Referrer-Policy"] == "same-origin"


def test_it_rejects_a_wrong_token_with_the_link_page(client, report):
    response = client.get(bad_link(report))

    assert response.status_code == 404
    assert NOT_VALID in visible_text(response)
    assert AuditEvent.objects.filter(event=Event.PORTAL_TOKEN_REJECTED, data__reason="bad_token").count() == 1
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()


def test_it_rejects_a_replaced_link(client, report, alice):
    old = link(report)
    rotate_portal_token(report=report, actor=alice)

    assert client.get(old).status_code == 404
    assert client.get(link(report)).status_code == 200


def test_it_rejects_a_wrong_tracking_id_and_a_malformed_token(client, report):
    token = link(report).split("/")[3]
    for url in (
        reverse("portal:report", args=["BST-0000000000", token]),
        reverse("portal:report", args=[report.tracking_id, "short"]),
        reverse("portal:report", args=["nonsense", "x" * 200]),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert NOT_VALID in visible_text(response)
