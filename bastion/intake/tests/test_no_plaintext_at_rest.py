"""A report's plaintext is nowhere at rest: not in the database file, its WAL, or the data dir.

A unique canary goes in through the API (title, description and an attachment), the transaction
commits, SQLite checkpoints its WAL, and then the raw bytes of every file are searched for it.
"""

from __future__ import annotations

import base64
import json
import secrets
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection

from bastion.intake.tests.helpers import form_data
from bastion.reports.models import Report

pytestmark = pytest.mark.django_db(transaction=True)


def _files_holding(canary: bytes) -> list[str]:
    paths = [p for p in Path(settings.DATA_DIR).rglob("*") if p.is_file()]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(FULL)")
        name = Path(connection.settings_dict["NAME"])
        assert name.is_file(), "the SQLite test database must be a real file for this test"
        paths += [name, name.with_name(name.name + "-wal")]
    # On PostgreSQL the database's files are not ours to read; the data dir is still searched.
    return [str(p) for p in paths if p.is_file() and canary in p.read_bytes()]


def test_a_canary_sent_through_the_api_is_nowhere_at_rest(client):
    canary = f"CANARY-{secrets.token_hex(12)}"
    attachment = {"filename": "poc.txt", "data": base64.b64encode(f"payload {canary} end".encode()).decode()}
    body = {
        "title": f"Title {canary}",
        "description": f"Body {canary}",
        "steps": canary,
        "attachments": [attachment],
    }
    response = client.post("/api/v1/reports", json.dumps(body), content_type="application/json")

    assert response.status_code == 201
    assert Report.objects.count() == 1
    assert _files_holding(canary.encode()) == []
    if connection.vendor == "sqlite":
        # The control: the search does find what is stored in clear (the tracking ID is not secret).
        assert _files_holding(response.json()["tracking_id"].encode())


def test_a_canary_sent_through_the_form_is_nowhere_at_rest(client):
    canary = f"CANARY-{secrets.token_hex(12)}"
    poc = SimpleUploadedFile("poc.txt", f"payload {canary} end".encode() * 5000)
    response = client.post(
        "/security/report", form_data(client, title=canary, impact=canary, attachments=[poc])
    )

    assert response.status_code == 303
    assert _files_holding(canary.encode()) == []
