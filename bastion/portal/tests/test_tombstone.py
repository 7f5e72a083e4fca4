"""What rita sees once her report's content is destroyed, and the outcome of her deletion request."""

from __future__ import annotations

from pathlib import Path

import pytest

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.portal.tests.conftest import DESCRIPTION, link, visible_text
from bastion.reports.models import Message, Report
from bastion.reports.services import (
    ShredReason,
    approve_deletion,
    refuse_deletion,
    reporter_actor,
    request_deletion,
    shred_report,
)

pytestmark = pytest.mark.django_db

REASON = "We are keeping this report until the fix ships on 12 May; we will delete it then."


@pytest.fixture(autouse=True)
def state_dir(private_keys, settings) -> Path:
    """The shred ledger of each test, beside its own master key."""
    return settings.VAULT_STATE_DIR


@pytest.fixture
def requested(report) -> Report:
    return request_deletion(report=report, actor=reporter_actor(report))


def test_an_approved_request_leaves_a_tombstone_that_says_it_was_her_request(
    client, requested, dave, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        approve_deletion(report=requested, actor=dave)

    response = client.get(link(requested))

    assert response.status_code == 200
    text = visible_text(response)
    assert "This report's content was destroyed" in text
    assert "at your request" in text
    assert requested.tracking_id in text
    assert "Content destroyed." in text  # the timeline's entry
    assert DESCRIPTION.split("**")[0] not in text
    assert "poc.py" not in text
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()  # nothing was opened


def test_a_refused_request_shows_the_security_team_s_reason(client, requested, dave):
    refuse_deletion(report=requested, actor=dave, reason=REASON)

    text = visible_text(client.get(link(requested)))

    assert "decided to keep the report, for this reason" in text
    assert REASON in text
    assert "Deletion request refused." in text  # the timeline's entry
    assert DESCRIPTION.split("**")[0] in text  # the report itself is still there


def test_a_pending_request_says_it_awaits_review(client, requested):
    assert "The security team will review it." in visible_text(client.get(link(requested)))


@pytest.fixture
def shredded(report, django_capture_on_commit_callbacks) -> Report:
    with django_capture_on_commit_callbacks(execute=True):
        shred_report(report=report, actor=Actor.system(), why=ShredReason.RETENTION)
    return report


def test_a_report_shredded_by_retention_says_so(client, shredded):
    assert "under the retention policy" in visible_text(client.get(link(shredded)))


def test_a_reply_to_a_shredded_report_is_refused_with_the_tombstone(client, shredded):
    response = client.post(link(shredded, "reply"), {"body": "Are you still there?"})

    assert response.status_code == 410
    assert "nothing more can be added" in visible_text(response)
    assert not Message.objects.filter(report=shredded).exists()


def test_the_files_of_a_shredded_report_are_not_found(client, shredded):
    attachment = shredded.attachments.get()

    assert client.get(link(shredded, "download", attachment.uid)).status_code == 404


def test_the_deletion_page_of_a_shredded_report_shows_the_tombstone(client, shredded):
    response = client.get(link(shredded, "deletion"))

    assert response.status_code == 200
    assert "This report's content was destroyed" in visible_text(response)


def test_settings_of_a_shredded_report_cannot_change(client, shredded):
    response = client.post(link(shredded, "credit"), {"credit_preference": "anonymous"})

    assert response.status_code == 410
    shredded.reporter.refresh_from_db()
    assert shredded.reporter.credit_preference == "name"
