"""Submitting a report seals everything under a per-report key, and refuses bad input without a trace.

The canary is put in every content field, the reporter's details and a file. These tests read what
the database really holds (raw column values of every table, through the cursor) and every byte
under the blob directory. The test database is in memory on SQLite, so grepping the database *file*
(after a WAL checkpoint) belongs to the intake tests, which run a real server on a file database.
"""

from __future__ import annotations

import pytest
from django.db import connection

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports import receipts
from bastion.reports.errors import ReportRejected
from bastion.reports.models import (
    Attachment,
    CreditPreference,
    Receipt,
    Report,
    Reporter,
    TimelineEntry,
    TimelineKind,
)
from bastion.reports.sealing import open_field
from bastion.reports.services import open_report, post_message, submit_report
from bastion.reports.tests.conftest import CANARY, FILE_BYTES, a_file, a_submission, blob_files
from bastion.test import rita
from bastion.vault.errors import SealError
from bastion.vault.models import DataKey

pytestmark = pytest.mark.django_db


def every_stored_value() -> list[bytes]:
    """Every value of every column of every table, as bytes: what a database dump would hold."""
    values = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
            for row in cursor.fetchall():
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        values.append(bytes(value))
                    elif value is not None:
                        values.append(str(value).encode())
    return values


def leaks(needle: str, haystack: list[bytes]) -> list[bytes]:
    return [value for value in haystack if needle.encode() in value or needle.lower().encode() in value]


def test_a_submission_creates_sealed_rows_and_a_data_key_for_the_report(submit):
    result = submit(attachments=[a_file()])
    report = result.report

    assert result.created is True
    assert report.tracking_id.startswith("BST-")
    assert len(report.tracking_id) == 14
    assert report.status == Report.Status.NEW
    assert report.data_key == DataKey.objects.get(subject=f"report:{report.uid}")
    assert report.policy_version == 3
    assert report.channel == "web"
    assert Reporter.objects.count() == Report.objects.count() == Receipt.objects.count() == 1
    attachment = Attachment.objects.get()
    assert attachment.size == len(FILE_BYTES)
    assert attachment.report == report
    assert attachment.message is None
    assert report.reporter.credit_preference == CreditPreference.NAME
    assert result.portal_url.startswith(f"https://bastion.example/portal/{report.tracking_id}/")


def test_the_canary_is_nowhere_in_the_database_or_the_blob_files(submit, private_vault):
    submit(attachments=[a_file(), a_file(b"", name="empty.txt")])

    stored = every_stored_value()
    assert len(stored) > 50  # the dump did read the tables
    assert leaks(CANARY, stored) == []
    assert leaks(rita.email, stored) == []
    assert leaks(rita.full_name, stored) == []
    assert leaks("/export", stored) == []
    files = blob_files(private_vault)
    assert len(files) == 2
    for path in files:
        data = path.read_bytes()
        assert CANARY.encode() not in data
        assert b"binary" not in data
        assert path.stat().st_mode & 0o777 == 0o600


def test_sealed_columns_hold_ciphertext_bound_to_their_row(submit):
    report = submit().report
    with connection.cursor() as cursor:
        cursor.execute("SELECT title, content FROM reports_report WHERE id = %s", [report.pk])
        title, content = (bytes(v) for v in cursor.fetchone())

    assert title[:1] == b"\x01"
    assert content[:1] == b"\x01"
    assert CANARY.encode() not in title + content
    # Copied onto another report's row, a sealed title does not open.
    other = submit(title="Another").report
    Report.objects.filter(pk=other.pk).update(title=title)
    other.refresh_from_db()

    with pytest.raises(SealError):
        open_field(other, "title", key=other.data_key_plain())


def test_the_text_is_stored_normalised_as_the_receipt_hashes_it(submit, alice):
    result = submit(title="  Two\n lines  ", description="a\r\nb\rc\n\n")
    opened = open_report(report=result.report, actor=alice)

    assert opened.title == "Two lines"
    assert opened.description == "a\nb\nc"
    canonical = receipts.canonical_submission(
        title=opened.title,
        description=opened.description,
        product=opened.product,
        version=opened.version,
        steps=opened.steps,
        impact=opened.impact,
        attachments=[],
    )
    assert result.report.submission_sha256 == receipts.sha256_hex(canonical)


def test_it_records_a_timeline_entry_and_an_audit_row_without_content(submit):
    report = submit(attachments=[a_file()]).report

    entry = TimelineEntry.objects.get(report=report)
    assert (entry.kind, entry.public, entry.data) == (
        TimelineKind.SUBMITTED,
        True,
        {"channel": "web", "attachments": 1},
    )
    event = AuditEvent.objects.get(event=Event.REPORT_SUBMITTED)
    assert event.target_id == str(report.pk)
    assert event.ip == "192.0.2.10"
    assert event.data == {
        "tracking_id": report.tracking_id,
        "channel": "web",
        "policy_version": 3,
        "attachments": 1,
        "has_email": True,
        "has_public_key": False,
    }


def test_an_anonymous_report_has_a_reporter_with_nothing_set(submit):
    report = submit(reporter_name="", reporter_handle="", email="", credit_preference="anonymous").report

    reporter = report.reporter
    assert (reporter.name, reporter.handle, reporter.email, reporter.public_key) == (None, None, None, None)
    assert reporter.email_digest == ""
    assert reporter.credit_preference == CreditPreference.ANONYMOUS


@pytest.mark.parametrize(
    ("fields", "field", "code"),
    [
        ({"public_key": "not a key at all"}, "public_key", "not_a_key"),
        ({"public_key": "-----BEGIN PGP PRIVATE KEY BLOCK-----\nxx\n"}, "public_key", "secret_key"),
        ({"title": "   "}, "title", "required"),
        ({"description": ""}, "description", "required"),
        ({"title": "x" * 201}, "title", "too_long"),
        ({"email": "rita at example"}, "email", "invalid"),
        ({"reporter_name": "", "credit_preference": "name"}, "credit_preference", "no_name"),
        ({"reporter_handle": "", "credit_preference": "handle"}, "credit_preference", "no_handle"),
        ({"credit_preference": "loudly"}, "credit_preference", "invalid"),
        ({"time_zone": "Mars/Olympus"}, "time_zone", "invalid"),
        ({"steps": "a\x00b"}, "steps", "nul"),
    ],
)
def test_bad_input_gets_a_clear_error_naming_the_field_and_nothing_is_saved(
    submit, private_vault, fields, field, code
):
    with pytest.raises(ReportRejected) as caught:
        submit(attachments=[a_file()], **fields)

    assert caught.value.field == field
    assert caught.value.reason == code
    assert list(caught.value.message_dict) == [field]
    assert CANARY not in str(caught.value)
    assert Report.objects.count() == Reporter.objects.count() == DataKey.objects.count() == 0
    assert not AuditEvent.objects.filter(event=Event.REPORT_SUBMITTED).exists()
    assert blob_files(private_vault) == []


def test_an_invalid_public_key_is_explained_in_words_a_reporter_can_act_on(submit):
    with pytest.raises(ReportRejected) as caught:
        submit(public_key="-----BEGIN PGP MESSAGE-----\nhQEMA\n-----END PGP MESSAGE-----\n")

    assert "an encrypted message, not a key" in caught.value.message_dict["public_key"][0]


def test_files_written_before_a_failure_are_deleted_with_the_rollback(submit, private_vault, monkeypatch):
    def signing_fails(*args, **kwargs):
        raise RuntimeError("the signing engine crashed")

    monkeypatch.setattr(receipts, "sign_statement", signing_fails)

    with pytest.raises(RuntimeError, match="signing engine"):
        submit(attachments=[a_file(), a_file()])

    assert blob_files(private_vault) == []
    assert Report.objects.count() == Attachment.objects.count() == DataKey.objects.count() == 0


def test_file_names_and_types_are_kept_sealed_and_tidied(submit, alice):
    files = [
        a_file(b"1", name="../../etc/passwd\n", content_type="text/plain; charset=utf-8"),
        a_file(b"2", name="", content_type="not a type"),
    ]
    report = submit(attachments=files).report
    metas = open_report(report=report, actor=alice).attachments

    assert [(m.filename, m.content_type) for m in metas] == [
        ("../../etc/passwd", "text/plain"),
        ("attachment", "application/octet-stream"),
    ]
    assert all(len(a.blob_name) == 32 for a in Attachment.objects.all())


def test_a_file_name_that_is_too_long_is_refused(submit):
    with pytest.raises(ReportRejected) as caught:
        submit(attachments=[a_file(name="a" * 256)])
    assert caught.value.field == "attachments"


def test_the_submission_object_keeps_content_out_of_its_repr():
    assert CANARY not in repr(a_submission())


def test_rows_describe_themselves_without_content(submit, alice):
    report = submit(attachments=[a_file()]).report
    message = post_message(report=report, body=CANARY, visibility="internal", actor=alice)
    rows = [
        report,
        report.reporter,
        report.receipt,
        message,
        report.attachments.get(),
        report.timeline.first(),
    ]

    descriptions = [str(row) for row in rows]
    assert descriptions[0] == report.tracking_id
    assert not [d for d in descriptions if CANARY in d]


def test_a_negative_policy_version_is_a_programming_error(db):
    with pytest.raises(ValueError, match="policy_version"):
        submit_report(submission=a_submission(), channel="web", policy_version=-1, actor=None)
