"""The deletion request panel, the tombstone of a shredded report, and the retention rules page."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.models import Message, Report, RetentionRule
from bastion.reports.services import (
    ShredReason,
    refuse_deletion,
    reporter_actor,
    request_deletion,
    shred_report,
)
from bastion.reports.tests.conftest import CANARY
from bastion.vault.models import DataKey

REASON = f"A fix ships next week; we keep the report until then. {CANARY}"


@pytest.fixture(autouse=True)
def state_dir(private_keys, settings) -> Path:
    """The shred ledger of each test, beside its own master key."""
    return settings.VAULT_STATE_DIR


@pytest.fixture
def requested(report) -> Report:
    return request_deletion(report=report, actor=reporter_actor(report))


@pytest.fixture
def shredded(report, django_capture_on_commit_callbacks) -> Report:
    with django_capture_on_commit_callbacks(execute=True):
        shred_report(report=report, actor=Actor.system(), why=ShredReason.RETENTION)
    return report


def url(name: str, report: Report) -> str:
    return reverse(f"triage:{name}", args=[report.tracking_id])


def page(client: Client, report: Report) -> str:
    response = client.get(url("report", report))
    assert response.status_code == 200
    return response.content.decode()


def destroyed(report: Report) -> bool:
    return DataKey.objects.get(pk=report.data_key_id).is_destroyed


# --- the panel ------------------------------------------------------------------------------------


def test_an_admin_sees_how_to_approve_or_refuse_a_pending_request(client_as, dave, requested):
    text = page(client_as(dave), requested)

    assert 'id="deletion"' in text
    assert url("deletion_approve", requested) in text
    assert url("deletion_refuse", requested) in text


def test_a_triager_sees_the_request_but_cannot_decide_it(client_as, alice, requested):
    text = page(client_as(alice), requested)

    assert "Awaiting an admin" in text
    assert url("deletion_approve", requested) not in text


def test_there_is_no_panel_without_a_request(client_as, dave, report):
    assert 'id="deletion"' not in page(client_as(dave), report)


def test_an_admin_approving_destroys_the_content_and_lands_on_the_tombstone(
    client_as, dave, requested, django_capture_on_commit_callbacks
):
    client = client_as(dave)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url("deletion_approve", requested))

    assert response.status_code == 303
    assert destroyed(requested)
    text = page(client, requested)
    assert "This report's content was destroyed" in text
    assert "at the reporter&#x27;s request" in text
    assert requested.tracking_id in text
    assert CANARY not in text
    assert "Approved" in text


def test_a_triager_cannot_approve(client_as, alice, requested):
    response = client_as(alice).post(url("deletion_approve", requested))

    assert response.status_code == 403
    assert not destroyed(requested)


def test_approving_without_a_request_says_why_and_destroys_nothing(client_as, dave, report):
    response = client_as(dave).post(url("deletion_approve", report))

    assert response.status_code == 409
    assert "has no deletion request" in response.content.decode()
    assert not destroyed(report)


def test_a_refusal_without_a_reason_is_shown_again_with_the_error(client_as, dave, requested):
    response = client_as(dave).post(url("deletion_refuse", requested), {"reason": "  "})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    requested.refresh_from_db()
    assert requested.deletion_decided_at is None


def test_an_admin_refuses_with_a_reason_that_staff_then_read_on_the_page(client_as, dave, alice, requested):
    response = client_as(dave).post(url("deletion_refuse", requested), {"reason": REASON})

    assert response.status_code == 303
    assert not destroyed(requested)
    text = page(client_as(alice), requested)
    assert "Refused" in text
    assert CANARY in text
    assert AuditEvent.objects.filter(event=Event.DELETION_REFUSED, actor_id=dave.pk).exists()


def test_the_decision_posts_need_a_csrf_token(dave, requested):
    client = Client(enforce_csrf_checks=True)
    client.force_login(dave, backend="allauth.account.auth_backends.AuthenticationBackend")

    assert client.post(url("deletion_approve", requested)).status_code == 403
    assert client.post(url("deletion_refuse", requested), {"reason": REASON}).status_code == 403
    assert not destroyed(requested)


# --- the tombstone --------------------------------------------------------------------------------


def test_a_shredded_report_opens_as_a_tombstone_not_an_error(client_as, alice, shredded):
    text = page(client_as(alice), shredded)

    assert "under the retention policy" in text
    assert shredded.get_status_display() in text
    assert CANARY not in text
    assert not AuditEvent.objects.filter(event=Event.REPORT_VIEWED).exists()  # nothing was opened


def test_its_files_are_gone(client_as, alice, shredded):
    attachment = shredded.attachments.get()

    response = client_as(alice).get(reverse("triage:attachment", args=[shredded.tracking_id, attachment.uid]))

    assert response.status_code == 410


def test_there_is_nothing_left_to_compare_or_export(client_as, alice, shredded):
    client = client_as(alice)

    candidates = client.get(url("duplicates", shredded))
    export = client.get(url("public_bug_export", shredded))

    assert candidates.status_code == 303
    assert export.status_code == 404


def test_nothing_can_be_added_to_a_shredded_report(client_as, alice, shredded):
    response = client_as(alice).post(url("reply", shredded), {"body": "Hello?"}, follow=True)

    assert response.status_code == 200
    assert "was destroyed: nothing more can be done with it" in response.content.decode()
    assert not Message.objects.filter(report=shredded).exists()


def test_a_refused_request_stays_refused_on_the_tombstone(
    client_as, dave, requested, django_capture_on_commit_callbacks
):
    refuse_deletion(report=requested, actor=dave, reason=REASON)
    with django_capture_on_commit_callbacks(execute=True):
        shred_report(report=requested, actor=Actor.system(), why=ShredReason.RETENTION)

    text = page(client_as(dave), requested)

    assert "Refused" in text
    assert CANARY not in text  # the reason was sealed under the key that is gone


# --- retention rules ------------------------------------------------------------------------------

RETENTION = reverse("triage:retention")


def test_triagers_read_the_rules_but_cannot_change_them(client_as, alice):
    RetentionRule.objects.create(status="spam", after_days=30)
    client = client_as(alice)

    text = client.get(RETENTION).content.decode()
    assert "Spam" in text
    assert "30 days" in text
    assert "Save rule" not in text
    assert client.post(RETENTION, {"status": "spam", "after_days": "1"}).status_code == 403
    assert RetentionRule.objects.get().after_days == 30


def test_an_admin_sets_and_removes_a_rule(client_as, dave):
    client = client_as(dave)

    response = client.post(RETENTION, {"status": "spam", "after_days": "30"}, follow=True)
    assert "Spam: content destroyed 30 days after closing." in response.content.decode()
    assert RetentionRule.objects.get().after_days == 30

    client.post(RETENTION, {"status": "spam", "after_days": ""})
    assert not RetentionRule.objects.exists()
    assert AuditEvent.objects.filter(event=Event.RETENTION_RULE_CHANGED).count() == 2


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"status": "spam", "after_days": "0"}, "greater than or equal to 1"),
        ({"status": "spam", "after_days": "99999"}, "less than or equal to 3650"),
        ({"status": "new", "after_days": "30"}, "Select a valid choice"),
    ],
)
def test_a_bad_rule_is_refused_with_a_clear_error(client_as, dave, data, message):
    response = client_as(dave).post(RETENTION, data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not RetentionRule.objects.exists()
