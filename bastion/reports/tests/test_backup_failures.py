"""Backups when something around them fails: a recipient key, a destination's listing, a drill, the job.

Each failure is recorded in the catalogue and the audit trail in words an operator can act on,
reaches the admins, and never costs an archive that was stored. The happy paths are in
``test_backups.py``.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core import mail

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.backup_tasks import daily_backup, email_backup_alert
from bastion.reports.services.backups import _recatalogue as recatalogue
from bastion.reports.services.backups import backup_health, run_backup, run_restore_drill
from bastion.vault.backup.archive import BackupError
from bastion.vault.backup.destinations import DestinationError, DirectoryDestination, Keep
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, RestoreDrill

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)"),
    pytest.mark.django_db(transaction=True),
]

KEEP = Keep.parse("7d,4w,12m")
# What an unexpected error's message could hold: it must reach neither the catalogue nor the audit.
LEAKY = "Invoice export leaks other tenants"


class ListingFails(DirectoryDestination):
    """A directory that takes writes but cannot be listed afterwards (a flaky network mount)."""

    def archives(self) -> list[str]:
        raise DestinationError(f"backup destination {self.path}: listing archives failed: Stale file handle")


class FetchBreaks(DirectoryDestination):
    """A destination whose download breaks in a way no one planned for, quoting what it was reading."""

    def fetch(self, name: str, into: Path) -> Path:
        raise RuntimeError(f"could not decode {LEAKY!r}")


# --- recipients ------------------------------------------------------------------------------------


def test_a_missing_recipient_key_file_fails_the_run_and_the_health_check_says_why(
    backup_disk, settings, submit, tmp_path
):
    submit()
    settings.BACKUP_RECIPIENTS = [str(tmp_path / "offline-key.asc")]

    with pytest.raises(BackupError, match=r"offline-key.asc does not exist \(BASTION_BACKUP_RECIPIENTS\)"):
        run_backup(actor=Actor.system())

    backup = Backup.objects.get()
    assert backup.state == BackupState.FAILED
    assert list(backup_disk.iterdir()) == []
    [event] = AuditEvent.objects.filter(event=Event.BACKUP_FAILED)
    assert "offline-key.asc does not exist" in event.data["error"]
    assert any(
        problem.startswith("the last backup failed: backup recipient key file")
        for problem in backup_health().problems
    )


def test_a_recipient_key_path_that_cannot_be_read_is_named(backup_disk, settings, submit, tmp_path):
    submit()
    (tmp_path / "keys.d").mkdir()
    settings.BACKUP_RECIPIENTS = [str(tmp_path / "keys.d")]

    with pytest.raises(BackupError, match=r"keys.d cannot be read: Is a directory"):
        run_backup(actor=Actor.system())


def test_a_recipient_key_file_that_holds_no_key_is_named(backup_disk, settings, submit, tmp_path):
    submit()
    (tmp_path / "ops.asc").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5 ops@example.org\n")
    settings.BACKUP_RECIPIENTS = [str(tmp_path / "ops.asc")]

    with pytest.raises(BackupError, match=r"backup recipient key file .*ops.asc: "):
        run_backup(actor=Actor.system())
    assert list(backup_disk.iterdir()) == []


# --- destinations ----------------------------------------------------------------------------------


def test_a_destination_that_cannot_be_listed_after_the_copy_keeps_the_backup(backup_disk, submit, caplog):
    submit()
    flaky = ListingFails(backup_disk, KEEP)

    with caplog.at_level(logging.WARNING, logger="bastion.reports.services.backups"):
        outcome = run_backup(actor=Actor.system(), destinations=[flaky])

    assert outcome.backup.state == BackupState.STORED
    assert outcome.failed == {}
    assert outcome.pruned == {flaky.name: []}
    assert [p.name for p in backup_disk.iterdir()] == [outcome.backup.name]
    assert f"Pruning {flaky.name} failed" in caplog.text
    assert not AuditEvent.objects.filter(event=Event.BACKUP_PRUNED).exists()


def test_an_unexpected_error_in_a_drill_is_named_by_its_class_only(backup_disk, submit):
    submit()
    run_backup(actor=Actor.system())

    drill = run_restore_drill(actor=Actor.system(), destinations=[FetchBreaks(backup_disk, KEEP)])

    assert drill.ok is False
    assert drill.error == "unexpected RuntimeError; see the worker's log"
    [event] = AuditEvent.objects.filter(event=Event.BACKUP_DRILL_FAILED)
    assert LEAKY not in str(event.data)
    assert "the last restore drill failed: unexpected RuntimeError" in " ".join(backup_health().problems)


def test_after_a_restore_a_broken_destination_setting_still_closes_the_interrupted_run(backup_disk, settings):
    mid_run = Backup.objects.create(name="bastion-20260101T000000Z-0000aa.tar.gpg")
    settings.BACKUP_DESTINATIONS = ["relative/path/is/refused"]

    recatalogue(SimpleNamespace(master_versions=[1]))  # type: ignore[arg-type]  # only its versions are read

    mid_run.refresh_from_db()
    assert mid_run.state == BackupState.FAILED
    assert mid_run.error == "interrupted: restored from a snapshot taken mid-run"


def test_after_a_restore_an_unlistable_destination_is_skipped_and_the_others_catalogued(
    backup_disk, settings, tmp_path, caplog
):
    held = "bastion-20261101T000000Z-0000bb.tar.gpg"
    (backup_disk / held).write_bytes(b"an archive made after the restored snapshot")
    settings.BACKUP_DESTINATIONS = [str(tmp_path / "unmounted"), str(backup_disk)]

    with caplog.at_level(logging.WARNING, logger="bastion.reports.services.backups"):
        recatalogue(SimpleNamespace(master_versions=[1]))  # type: ignore[arg-type]  # only its versions

    assert f"dir:{tmp_path / 'unmounted'} could not be listed" in caplog.text
    entered = Backup.objects.get(name=held)
    assert entered.state == BackupState.STORED
    assert entered.copies.get().state == CopyState.STORED
    assert not BackupCopy.objects.filter(destination=f"dir:{tmp_path / 'unmounted'}").exists()


# --- the daily job and its alert ---------------------------------------------------------------------


def test_a_malformed_destination_setting_still_alerts_the_admins(backup_disk, settings, submit, dave, caplog):
    submit()
    mail.outbox.clear()  # the reporter's acknowledgement
    settings.BACKUP_DESTINATIONS = ["backups/relative"]

    with caplog.at_level(logging.ERROR, logger="bastion.reports.backup_tasks"):
        daily_backup.call()

    assert "The daily backup failed: DestinationSpecError" in caplog.text
    assert "The restore drill could not run: DestinationSpecError" in caplog.text
    assert not RestoreDrill.objects.exists()
    [alert] = mail.outbox
    assert alert.to == [dave.email]
    assert "no verified backup is newer than" in alert.body


def test_an_alert_with_no_admin_to_receive_it_is_logged_instead(backup_disk, settings, caplog):
    settings.BACKUP_DESTINATIONS = ["/nonexistent/backup/disk"]
    mail.outbox.clear()

    with caplog.at_level(logging.WARNING, logger="bastion.reports.backup_tasks"):
        email_backup_alert.call()

    assert "there is no active admin to tell" in caplog.text
    assert mail.outbox == []


def test_an_alert_that_runs_after_the_trouble_cleared_sends_nothing(backup_disk, submit, dave):
    submit()
    run_backup(actor=Actor.system())
    assert run_restore_drill(actor=Actor.system()).ok
    mail.outbox.clear()

    email_backup_alert.call()

    assert mail.outbox == []
