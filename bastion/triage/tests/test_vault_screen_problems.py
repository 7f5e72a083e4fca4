"""The vault screen when the backup setup is broken, and its "Back up now" button.

An admin opens this page exactly when something is wrong, so a destination that cannot be read or a
malformed BASTION_BACKUP_TO is shown on it in words, never turned into an error page.
"""

from __future__ import annotations

import shutil
from html import escape

import pytest
from django.contrib.messages import get_messages

from bastion.vault.models import Backup, BackupState, RestoreDrill


def test_a_destination_that_cannot_be_read_is_shown_with_its_reason(client_as, dave, settings, tmp_path):
    settings.BACKUP_DESTINATIONS = [str(tmp_path / "not-mounted")]

    response = client_as(dave).get("/triage/vault/")

    assert response.status_code == 200
    page = response.content.decode()
    assert f"dir:{tmp_path / 'not-mounted'}" in page
    assert (
        escape(f"backup destination {tmp_path / 'not-mounted'} does not exist (is the disk mounted?)") in page
    )


def test_a_malformed_backup_setting_is_shown_instead_of_the_destinations(client_as, dave, settings):
    settings.BACKUP_DESTINATIONS = ["backups/relative"]

    response = client_as(dave).get("/triage/vault/")

    assert response.status_code == 200
    assert (
        escape("backup destination 'backups/relative' is not an absolute path") in response.content.decode()
    )


def test_only_an_admin_may_start_a_backup(client_as, alice):
    assert client_as(alice).post("/triage/vault/backup/").status_code == 403
    assert not Backup.objects.exists()


@pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)")
@pytest.mark.django_db(transaction=True)  # the backup reads the database through its own connection
def test_back_up_now_runs_the_backup_and_drill_and_comes_back_to_the_screen(
    client_as, dave, settings, tmp_path, submit
):
    disk = tmp_path / "disk"
    disk.mkdir()
    settings.BACKUP_DESTINATIONS = [str(disk)]
    settings.BACKUP_RECIPIENTS = []
    settings.BACKUP_WORK_DIR = tmp_path / "work"
    submit()

    response = client_as(dave).post("/triage/vault/backup/")

    assert response.status_code == 303
    assert response["Location"] == "/triage/vault/"
    notes = [str(m) for m in get_messages(response.wsgi_request)]
    assert notes == ["A backup and restore drill were queued; this page shows them when they finish."]
    # The test environment runs tasks at once: the queued job has already run.
    assert Backup.objects.get().state == BackupState.STORED
    assert RestoreDrill.objects.get().ok is True
    assert len(list(disk.iterdir())) == 1
