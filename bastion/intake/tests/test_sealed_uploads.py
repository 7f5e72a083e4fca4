"""Sealed uploads: an uploaded file is on disk only as ciphertext, and reads back as sent."""

from __future__ import annotations

import os
import secrets

import pytest
from django.core.files.uploadhandler import SkipFile
from django.http import HttpRequest

from bastion.reports.uploads import SealedUploadHandler, upload_dir, upload_refusals


def _upload(content: bytes, *, chunk: int = 65536) -> tuple[SealedUploadHandler, HttpRequest]:
    request = HttpRequest()
    handler = SealedUploadHandler(request)
    handler.new_file("attachments", "poc.bin", "application/octet-stream", None)
    for start in range(0, len(content), chunk):
        handler.receive_data_chunk(content[start : start + chunk], start)
    return handler, request


@pytest.mark.parametrize("size", [0, 10, 65536, 65537, 3 * 65536, 200_001])
def test_the_temp_file_never_holds_the_plaintext_and_reads_back_identical(size):
    canary = b"CANARY-" + secrets.token_hex(8).encode()
    content = (canary * (size // len(canary) + 1))[:size] if size else b""
    handler, _ = _upload(content, chunk=7000)
    uploaded = handler.file_complete(len(content))
    path = uploaded._sealed_path

    on_disk = path.read_bytes()
    assert canary not in on_disk
    assert content[:32] not in on_disk or size == 0
    assert uploaded.read() == content
    uploaded.open()
    assert b"".join(uploaded.chunks()) == content
    assert uploaded.size == len(content)
    uploaded.close()
    assert not path.exists()


def test_the_upload_dir_is_private():
    assert upload_dir().stat().st_mode & 0o777 == 0o700


def test_a_file_over_the_limit_is_skipped_and_removed_with_the_limit_named(settings):
    settings.INTAKE_MAX_ATTACHMENT_BYTES = 1024
    before = set(os.listdir(upload_dir()))
    request = HttpRequest()
    handler = SealedUploadHandler(request)
    handler.new_file("attachments", "huge.bin", "application/octet-stream", None)
    handler.receive_data_chunk(b"x" * 1000, 0)
    with pytest.raises(SkipFile):
        handler.receive_data_chunk(b"x" * 1000, 1000)
    assert upload_refusals(request) == [
        "The file “huge.bin” is larger than the limit of 1 KiB per attachment."
    ]
    assert set(os.listdir(upload_dir())) == before


def test_an_interrupted_upload_leaves_no_file():
    handler, _ = _upload(b"partial")
    handler.upload_interrupted()
    assert not handler._path.exists()
