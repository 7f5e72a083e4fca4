"""The same submission retried is one report; the same key with another body is a conflict."""

from __future__ import annotations

import pytest
from django.core import mail

from bastion.reports.errors import IdempotencyConflict, ReportRejected
from bastion.reports.models import Attachment, Report
from bastion.reports.tests.conftest import a_file, blob_files
from bastion.vault.models import DataKey

pytestmark = pytest.mark.django_db


def test_the_same_request_with_the_same_key_returns_the_first_report(submit, private_vault):
    first = submit(attachments=[a_file()], idempotency_key="retry-1")
    again = submit(attachments=[a_file()], idempotency_key="retry-1")

    assert first.created is True
    assert again.created is False
    assert again.report.pk == first.report.pk
    assert again.portal_url == first.portal_url
    assert again.receipt.pk == first.receipt.pk
    assert Report.objects.count() == DataKey.objects.count() == Attachment.objects.count() == 1
    # The retry's own copy of the file was deleted with its rolled-back transaction.
    assert len(blob_files(private_vault)) == 1
    assert len(mail.outbox) == 1  # one acknowledgement


def test_the_same_key_with_a_different_body_is_a_conflict(submit, private_vault):
    submit(idempotency_key="retry-1")

    with pytest.raises(IdempotencyConflict, match="different submission"):
        submit(idempotency_key="retry-1", impact="Something else entirely")
    with pytest.raises(IdempotencyConflict):
        submit(idempotency_key="retry-1", attachments=[a_file()])

    assert Report.objects.count() == 1
    assert blob_files(private_vault) == []


def test_a_different_file_under_the_same_key_is_a_conflict(submit):
    submit(attachments=[a_file(b"one")], idempotency_key="k")

    with pytest.raises(IdempotencyConflict):
        submit(attachments=[a_file(b"two")], idempotency_key="k")


def test_keys_are_scoped_by_channel_and_no_key_means_no_deduplication(submit):
    submit(idempotency_key="<1234@mail.example>", channel="email")
    submit(idempotency_key="<1234@mail.example>", channel="api")
    submit()
    submit()

    assert Report.objects.count() == 4


def test_an_unusable_idempotency_key_is_refused(submit):
    with pytest.raises(ReportRejected) as caught:
        submit(idempotency_key="x" * 201)
    assert caught.value.field == "idempotency_key"


def test_the_key_is_stored_only_as_a_digest(submit):
    report = submit(idempotency_key="client-secret-ish-key").report

    assert "client-secret-ish-key" not in report.idempotency_key_digest
    assert len(report.idempotency_key_digest) == 64
