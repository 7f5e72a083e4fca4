"""The report form refusing files and floods: a message the reporter can act on, nothing half-stored.

Whatever is refused (a file over the limit, an empty one, a flood, a disk that fills up while the
files are sealed), no report row, no sealed blob and no upload temp file is left behind, and the
reporter is never told a report arrived that did not.
"""

from __future__ import annotations

import errno
import io
import os
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http import HttpRequest
from django.test import Client

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.intake.tests.helpers import form_data, solve
from bastion.reports.models import Report
from bastion.reports.uploads import SealedUploadHandler, upload_dir
from bastion.vault import storage

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def blob_dir(settings, tmp_path: Path) -> Path:
    """This test's own blob store, so "no file left" is checked against nothing but this test."""
    settings.VAULT_BLOB_DIR = tmp_path / "files"
    settings.INTAKE_CHALLENGE_MAX_NUMBER = 2000
    return tmp_path / "files"


def stored_blobs(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_a_limit_under_one_kibibyte_is_named_in_bytes(client, settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 500
    big = SimpleUploadedFile("trace.txt", b"x" * 501)

    response = client.post("/security/report", form_data(client, attachments=[big]))

    assert response.status_code == 413
    assert "The file “trace.txt” is larger than the limit of 500 bytes per attachment." in (
        response.content.decode()
    )


def test_one_oversized_file_among_good_ones_stores_none_of_them(client, settings, blob_dir):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 4096
    files = [
        SimpleUploadedFile("screenshot.png", b"\x89PNG" + b"\x00" * 1000, content_type="image/png"),
        SimpleUploadedFile("core.dump", b"x" * 10_000),
        SimpleUploadedFile("poc.py", b"print('pwned')", content_type="text/x-python"),
    ]

    response = client.post("/security/report", form_data(client, attachments=files, impact="Full RCE"))

    assert response.status_code == 413
    page = response.content.decode()
    assert "“core.dump” is larger than the limit of 4 KiB" in page
    assert "Full RCE" in page  # the reporter's text is kept for the next try
    assert not Report.objects.exists()
    assert stored_blobs(blob_dir) == []
    assert list(upload_dir().iterdir()) == []


def test_an_empty_file_is_refused_beside_the_field(client, blob_dir):
    empty = SimpleUploadedFile("notes.txt", b"")

    response = client.post("/security/report", form_data(client, attachments=[empty]))

    assert response.status_code == 400
    assert "The submitted file is empty." in response.content.decode()
    assert not Report.objects.exists()
    assert stored_blobs(blob_dir) == []


def test_a_flood_past_the_block_level_is_refused_even_with_a_solved_challenge(client, settings):
    settings.INTAKE_LIMIT_PER_IP = "1/3600"  # a challenge from the 2nd attempt, blocked after the 5th
    assert client.post("/security/report", form_data(client)).status_code == 303
    for attempt in range(4):
        client.post("/security/report", form_data(client, title=f"Attempt {attempt}"))

    data = form_data(client, title="One more")
    data["altcha"] = solve(client.get("/security/challenge").json())
    refused = client.post("/security/report", data)

    assert refused.status_code == 429
    page = refused.content.decode()
    assert "Too many reports from your network in a short time" in page
    assert "send your report by e-mail" in page
    assert "One more" in page
    assert Report.objects.count() == 1
    tripped = AuditEvent.objects.filter(event=Event.FLOOD_TRIPPED)
    assert sorted(e.data["level"] for e in tripped) == ["block", "challenge"]


def test_a_disk_that_fills_up_while_sealing_the_files_leaves_no_report_and_no_file(
    settings, blob_dir, monkeypatch
):
    client = Client(raise_request_exception=False)
    files = [SimpleUploadedFile("a.txt", b"first file"), SimpleUploadedFile("b.txt", b"second file")]
    data = form_data(client, attachments=files)
    real = storage.create_private_file
    calls = []

    def second_write_finds_the_disk_full(path: Path) -> int:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(path)

    monkeypatch.setattr(storage, "create_private_file", second_write_finds_the_disk_full)
    response = client.post("/security/report", data)

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong" in page
    assert "first file" not in page
    assert not Report.objects.exists()
    assert len(calls) == 2
    assert stored_blobs(blob_dir) == []  # the first file's blob went with the failed transaction
    assert list(upload_dir().iterdir()) == []


def test_a_report_from_an_address_that_does_not_parse_is_received_and_audited_without_one(client):
    response = client.post("/security/report", form_data(client), REMOTE_ADDR="unknown")

    assert response.status_code == 303
    report = Report.objects.get()
    event = AuditEvent.objects.get(event=Event.REPORT_SUBMITTED, target_id=str(report.pk))
    assert event.ip is None


def test_a_sealed_upload_can_be_rewound_but_not_sought_into():
    # Readers that sniff a file's type read its start, then rewind: that must work, and a seek
    # anywhere else must fail loudly rather than hand back the wrong bytes.
    handler = SealedUploadHandler(HttpRequest())
    handler.new_file("attachments", "poc.bin", "application/octet-stream", None)
    handler.receive_data_chunk(b"0123456789abcdef", 0)
    uploaded = handler.file_complete(16)
    try:
        assert uploaded.readable()
        assert uploaded.seekable()
        assert uploaded.read(10) == b"0123456789"
        assert uploaded.tell() == 10
        assert uploaded.file is not None
        assert uploaded.file.seek(0, io.SEEK_CUR) == 10
        with pytest.raises(io.UnsupportedOperation, match="only be rewound to its start"):
            uploaded.seek(4)
        uploaded.seek(0)
        assert uploaded.read() == b"0123456789abcdef"
    finally:
        uploaded.close()
