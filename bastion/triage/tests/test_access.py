"""Who may reach the inbox, a report, a file, and the three actions: the matrix, persona by URL.

Anonymous visitors are sent to sign in; viewers (charlie) are refused until grants exist;
triagers (alice) and admins (dave) get in. Every refusal has its test here.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Message, Status

GET, POST = "get", "post"


def urls(report, attachment) -> dict[str, tuple[str, str, dict[str, str]]]:
    """name → (method, url, POST data that would succeed for a triager)."""
    tid = report.tracking_id
    return {
        "inbox": (GET, reverse("triage:inbox"), {}),
        "report": (GET, reverse("triage:report", args=[tid]), {}),
        "attachment": (GET, reverse("triage:attachment", args=[tid, attachment.uid]), {}),
        "reply": (POST, reverse("triage:reply", args=[tid]), {"body": "Thanks, looking."}),
        "note": (POST, reverse("triage:note", args=[tid]), {"body": "Reproduced on staging."}),
        "status": (POST, reverse("triage:status", args=[tid]), {"to": Status.TRIAGED, "version": "1"}),
    }


URL_NAMES = ["inbox", "report", "attachment", "reply", "note", "status"]
ALLOWED = {"inbox": 200, "report": 200, "attachment": 200, "reply": 303, "note": 303, "status": 303}


def call(client, method: str, url: str, data: dict[str, str]):
    return client.post(url, data) if method == POST else client.get(url)


@pytest.mark.parametrize("name", URL_NAMES)
def test_it_rejects_anonymous_visitors_with_a_sign_in_redirect(client, report, attachment, name):
    method, url, data = urls(report, attachment)[name]

    response = call(client, method, url, data)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("account_login"))


@pytest.mark.parametrize("name", URL_NAMES)
def test_it_rejects_viewers(client_as, charlie, report, attachment, name):
    method, url, data = urls(report, attachment)[name]

    response = call(client_as(charlie), method, url, data)

    assert response.status_code == 403


@pytest.mark.parametrize("name", URL_NAMES)
def test_refusals_change_and_open_nothing(client, client_as, charlie, report, attachment, name):
    method, url, data = urls(report, attachment)[name]
    opened = [
        Event.REPORT_VIEWED,
        Event.ATTACHMENT_DOWNLOADED,
        Event.MESSAGE_POSTED,
        Event.REPORT_STATUS_CHANGED,
    ]

    call(client, method, url, data)
    call(client_as(charlie), method, url, data)

    assert Message.objects.filter(report=report).count() == 0
    report.refresh_from_db()
    assert report.status == Status.NEW
    assert not AuditEvent.objects.filter(event__in=opened).exists()


@pytest.mark.parametrize("persona", ["alice", "dave"])
@pytest.mark.parametrize("name", URL_NAMES)
def test_triagers_and_admins_get_in(client_as, request, report, attachment, persona, name):
    method, url, data = urls(report, attachment)[name]

    response = call(client_as(request.getfixturevalue(persona)), method, url, data)

    assert response.status_code == ALLOWED[name]


def test_it_rejects_an_unknown_tracking_id_with_a_404(client_as, alice, db):
    response = client_as(alice).get(reverse("triage:report", args=["BST-0000000000"]))

    assert response.status_code == 404


def test_it_rejects_a_file_asked_for_under_another_reports_tracking_id(
    client_as, alice, submit, report, attachment
):
    other = submit(title="Another report").report
    url = reverse("triage:attachment", args=[other.tracking_id, attachment.uid])

    response = client_as(alice).get(url)

    assert response.status_code == 404
    assert not AuditEvent.objects.filter(event=Event.ATTACHMENT_DOWNLOADED).exists()


@pytest.mark.parametrize("name", ["reply", "note", "status"])
def test_it_rejects_a_get_on_an_action(client_as, alice, report, attachment, name):
    _, url, _ = urls(report, attachment)[name]

    response = client_as(alice).get(url)

    assert response.status_code == 405


@pytest.mark.parametrize("name", URL_NAMES)
def test_every_triage_page_is_kept_out_of_caches(client_as, alice, report, attachment, name):
    method, url, data = urls(report, attachment)[name]

    response = call(client_as(alice), method, url, data)

    assert "no-store" in response["Cache-Control"]


@pytest.mark.parametrize("junk", ["%00", "BST-%00", "not-a-tracking-id", "BST-" + "Z" * 300])
def test_a_path_that_is_no_tracking_id_is_a_plain_404(client_as, alice, junk):
    # On PostgreSQL a NUL in a query parameter is a database error: it must never reach a query.
    assert client_as(alice).get(f"/triage/{junk}/").status_code == 404
