"""Backups, restore drills and restores as services: what is catalogued, audited, alerted and refused.

The CLI walk-through of the whole scenario is ``bastion/tests/test_backup_done_when.py``; here the
services run in-process against the test database, with directory destinations in tmp_path.
Backups read the database through a second connection, so these tests commit (transaction=True).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import time_machine
from django.core import mail
from django.db import connection
from django.db.migrations.recorder import MigrationRecorder
from django.utils import timezone

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.audit.services import Actor
from bastion.reports.backup_tasks import check_backup_health, daily_backup
from bastion.reports.services.backups import (
    RestoreRefused,
    backup_health,
    newest_archive,
    restore_backup,
    run_backup,
    run_restore_drill,
)
from bastion.reports.services.backups import (
    _recatalogue as recatalogue,
)
from bastion.reports.services.shredding import ShredReason, shred_report
from bastion.reports.tests.conftest import a_file
from bastion.vault.backup.archive import BackupError, Manifest, NewerArchive
from bastion.vault.backup.destinations import DestinationError, DirectoryDestination, Keep, StoredCopy
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, DataKey, RestoreDrill

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)"),
    pytest.mark.django_db(transaction=True),
]

KEEP = Keep.parse("7d,4w,12m")


class BrokenDisk:
    """A destination whose every write fails, as a full or unmounted disk would."""

    name = "broken"
    keep = KEEP

    def check(self) -> None:
        raise DestinationError("backup destination /mnt/gone does not exist")

    def store(self, archive: Path, name: str) -> StoredCopy:  # pragma: no cover - check() fails first
        raise AssertionError("not reached")

    def archives(self) -> list[str]:
        raise DestinationError("backup destination /mnt/gone does not exist")

    def fetch(self, name: str, into: Path) -> Path:  # pragma: no cover - never listed
        raise AssertionError("not reached")

    def delete(self, name: str) -> None:  # pragma: no cover - never listed
        raise AssertionError("not reached")

    def locate(self, name: str) -> str:  # pragma: no cover - never listed
        return f"/mnt/gone/{name}"


def events(kind: Event) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(event=kind))


def test_a_backup_is_catalogued_audited_and_drilled(backup_disk, submit):
    submit(attachments=[a_file(b"proof of concept" * 1000)])
    submit(title="A second report")

    outcome = run_backup(actor=Actor.system())

    backup = outcome.backup
    assert backup.state == BackupState.STORED
    assert backup.manifest["counts"]["reports"] == 2
    assert backup.master_versions == [1]
    [copy] = backup.copies.all()
    assert copy.state == CopyState.STORED
    assert Path(copy.location).read_bytes()[:1] != b"{"  # OpenPGP, not a readable tar or manifest
    assert [e.data["size"] for e in events(Event.BACKUP_CREATED)] == [backup.size]

    drill = run_restore_drill(actor=Actor.system())

    assert drill.ok is True, drill.error
    assert drill.backup == backup
    assert drill.checked["rows"]["reports.Report"] == 2
    assert drill.checked["files"] == 1
    assert drill.checked["file_bytes"] == 16000
    assert drill.checked["audit_events"] > 0
    assert len(events(Event.BACKUP_DRILL_PASSED)) == 1
    assert backup_health().problems == []


def test_the_catalogue_names_every_master_version_a_live_data_key_uses_and_no_other(backup_disk, submit):
    # Retirement trusts this list: a version missing from it could be destroyed while the archive
    # still needs it. Keys are moved by hand (the wrapped bytes don't matter to a backup).
    keys = [submit(title=f"Report {n}").report.data_key for n in range(4)]
    DataKey.objects.filter(pk=keys[0].pk).update(master_version=3)
    DataKey.objects.filter(pk=keys[1].pk).update(master_version=2, destroyed_at=timezone.now())
    DataKey.objects.filter(pk=keys[2].pk).update(master_version=5)

    backup = run_backup(actor=Actor.system()).backup

    assert backup.master_versions == [1, 3, 5]  # 2 wraps only a destroyed key


def test_the_drill_leaves_a_report_shredded_after_the_archive_unopened(backup_disk, submit):
    kept = submit().report
    doomed = submit(title="Filed by mistake").report
    run_backup(actor=Actor.system())
    shred_report(report=doomed, actor=Actor.system(), why=ShredReason.OPERATOR)

    drill = run_restore_drill(actor=Actor.system())

    assert drill.ok is True, drill.error
    assert drill.checked["ledger_reapplied"] == 1
    assert drill.checked["rows"]["reports.Report"] == 1
    assert drill.checked["shredded"]["reports.Report"] == 1
    assert kept.tracking_id not in json.dumps(drill.checked)


def test_a_failing_destination_does_not_stop_the_others_and_is_reported(backup_disk, submit):
    submit()
    disk = DirectoryDestination(backup_disk, KEEP)

    outcome = run_backup(actor=Actor.system(), destinations=[BrokenDisk(), disk])

    assert outcome.backup.state == BackupState.STORED
    assert outcome.failed == {"broken": "backup destination /mnt/gone does not exist"}
    failed = BackupCopy.objects.get(destination="broken")
    assert failed.state == CopyState.FAILED
    assert len(disk.archives()) == 1
    problems = backup_health().problems
    assert (
        "the last backup could not be written to broken: backup destination /mnt/gone does not exist"
        in problems
    )


def test_a_backup_that_reaches_no_destination_fails_and_keeps_the_older_archive(backup_disk, submit):
    submit()
    run_backup(actor=Actor.system())
    [older] = list(backup_disk.iterdir())

    with pytest.raises(BackupError, match="reached no destination"):
        run_backup(actor=Actor.system(), destinations=[BrokenDisk()])

    assert list(backup_disk.iterdir()) == [older]
    assert Backup.objects.filter(state=BackupState.FAILED).count() == 1
    assert len(events(Event.BACKUP_FAILED)) == 1


def test_a_backup_without_destinations_is_refused_clearly(backup_disk, settings):
    settings.BACKUP_DESTINATIONS = []

    with pytest.raises(BackupError, match="BASTION_BACKUP_TO"):
        run_backup(actor=Actor.system())


def test_a_drill_without_any_archive_fails_with_the_reason(backup_disk):
    drill = run_restore_drill(actor=Actor.system())

    assert drill.ok is False
    assert drill.error == "no archive was found in any backup destination"
    assert len(events(Event.BACKUP_DRILL_FAILED)) == 1


def test_a_drill_of_a_corrupted_archive_fails_and_says_so(backup_disk, submit):
    submit()
    backup = run_backup(actor=Actor.system()).backup
    archive = backup_disk / backup.name
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0xFF
    archive.write_bytes(bytes(data))

    drill = run_restore_drill(actor=Actor.system())

    assert drill.ok is False
    assert drill.error
    assert any(problem.startswith("the last restore drill failed") for problem in backup_health().problems)


def test_the_newest_archive_is_taken_from_a_directory_before_a_slower_copy(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir(), second.mkdir()
    old, new = "bastion-20261101T000000Z-000001.tar.gpg", "bastion-20261102T000000Z-000002.tar.gpg"
    (first / old).write_bytes(b"x")
    for disk in (first, second):
        (disk / new).write_bytes(b"x")
    ours = [DirectoryDestination(first, KEEP, name="a"), DirectoryDestination(second, KEEP, name="b")]

    name, destination = newest_archive([BrokenDisk(), *ours]) or ("", None)

    assert name == new
    assert destination is ours[0]


def test_health_asks_for_a_verified_backup_younger_than_the_limit(backup_disk, submit):
    submit()
    run_backup(actor=Actor.system())
    assert run_restore_drill(actor=Actor.system()).ok

    assert backup_health().problems == []
    later = timezone.now() + timedelta(hours=27)
    assert backup_health(now=later).problems == ["no verified backup is newer than 26 hours"]


def test_the_daily_job_backs_up_drills_and_alerts_admins_only_on_trouble(backup_disk, submit, settings, dave):
    submit()
    mail.outbox.clear()  # the reporter's acknowledgement

    daily_backup.call()

    assert RestoreDrill.objects.get().ok is True
    assert mail.outbox == []

    settings.BACKUP_DESTINATIONS = ["/nonexistent/backup/disk"]
    daily_backup.call()

    [alert] = mail.outbox
    assert "Backups need attention" in alert.subject
    assert "does not exist" in alert.body


def test_the_health_check_alerts_while_backups_are_stale(backup_disk, submit, dave):
    with time_machine.travel(timezone.now() - timedelta(days=3)):
        submit()
        run_backup(actor=Actor.system())
        run_restore_drill(actor=Actor.system())
    mail.outbox.clear()

    check_backup_health.call()

    [alert] = mail.outbox
    assert "no verified backup is newer than 26 hours" in alert.body


def test_a_restore_over_live_data_is_refused_without_force(backup_disk, submit):
    submit()
    backup = run_backup(actor=Actor.system()).backup

    with pytest.raises(RestoreRefused, match="already holds data"):
        restore_backup(archive=backup_disk / backup.name, actor=Actor.system())


def test_a_restore_refuses_an_archive_from_a_newer_schema(backup_disk, submit, monkeypatch):
    submit()
    backup = run_backup(actor=Actor.system()).backup
    real = Manifest.from_json

    def from_the_future(data: bytes) -> Manifest:
        manifest = real(data)
        newer = {**(manifest.migrations or {}), "reports": "9999_from_the_future"}
        return dataclasses.replace(manifest, migrations=newer)

    monkeypatch.setattr(Manifest, "from_json", staticmethod(from_the_future))
    with pytest.raises(NewerArchive, match="newer Bastion"):
        restore_backup(archive=backup_disk / backup.name, actor=Actor.system(), force=True)


def test_an_archive_from_an_older_schema_is_migrated_after_the_restore(backup_disk, submit):
    # Pretend the archive was made before triage's 0002 (its default canned responses) existed:
    # neither the migration's record nor its rows are in the snapshot.
    submit()
    recorder = MigrationRecorder(connection)
    recorder.migration_qs.filter(app="triage", name="0002_default_canned_responses").delete()
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM triage_cannedresponse")
    backup = run_backup(actor=Actor.system()).backup

    restore_backup(archive=backup_disk / backup.name, actor=Actor.system(), force=True)

    assert ("triage", "0002_default_canned_responses") in MigrationRecorder(connection).applied_migrations()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM triage_cannedresponse WHERE is_default")
        assert cursor.fetchone()[0] > 0


def test_the_vault_screen_shows_backups_drills_keys_and_pending_deletions(
    backup_disk, submit, client_as, dave
):
    report = submit().report
    report.deletion_requested_at = timezone.now()
    report.save(update_fields=["deletion_requested_at"])
    run_backup(actor=Actor.system())
    run_restore_drill(actor=Actor.system())
    page = client_as(dave).get("/triage/vault/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "passed" in text
    assert report.tracking_id in text
    assert "v1 (current)" in text
    assert f"dir:{backup_disk}" in text


def test_the_admins_dashboard_shows_the_drill_and_any_problem(backup_disk, submit, client_as, dave):
    submit()
    run_backup(actor=Actor.system())
    assert run_restore_drill(actor=Actor.system()).ok

    page = client_as(dave).get("/").content.decode()

    assert "restore drill passed" in page
    assert "no verified backup" not in page
    with time_machine.travel(timezone.now() + timedelta(hours=30)):
        stale = client_as(dave).get("/").content.decode()
    assert "no verified backup is newer than 26 hours" in stale


def test_a_restore_on_a_machine_without_its_keys_refuses_and_makes_none(
    backup_disk, submit, settings, tmp_path
):
    submit()
    archive = backup_disk / run_backup(actor=Actor.system()).backup.name
    settings.MASTER_KEY_DIR = tmp_path / "not-put-back-yet"

    with pytest.raises(BackupError, match="put the master-key directory back"):
        restore_backup(archive=archive, actor=Actor.system(), force=True)
    assert not (tmp_path / "not-put-back-yet").exists()

    settings.MASTER_KEY_DIR = tmp_path / "keys"
    settings.VAULT_STATE_DIR = tmp_path / "state-not-put-back"
    with pytest.raises(BackupError, match="--secret-key"):
        restore_backup(archive=archive, actor=Actor.system(), force=True)
    assert not (tmp_path / "state-not-put-back").exists()


def test_a_run_killed_long_ago_is_closed_so_it_no_longer_blocks_key_retirement(backup_disk, submit):
    stale = Backup.objects.create(name="bastion-20260101T000000Z-000000.tar.gpg")
    Backup.objects.filter(pk=stale.pk).update(started_at=timezone.now() - timedelta(days=1))
    submit()

    run_backup(actor=Actor.system())

    stale.refresh_from_db()
    assert stale.state == BackupState.FAILED
    assert stale.error.startswith("interrupted")


def test_pruning_keeps_the_newest_verified_archive_until_a_newer_one_passes(backup_disk, submit, settings):
    settings.BACKUP_DESTINATIONS = [f"{backup_disk}?keep=1d"]  # only the newest of the day would stay
    submit()
    morning = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)

    def at(minutes: int) -> time_machine.travel:
        return time_machine.travel(morning + timedelta(minutes=minutes), tick=False)

    with at(0):
        verified = run_backup(actor=Actor.system()).backup
        assert run_restore_drill(actor=Actor.system()).ok
    with at(10):
        unverified = run_backup(actor=Actor.system()).backup

    assert sorted(p.name for p in backup_disk.iterdir()) == sorted([verified.name, unverified.name])
    with at(20):
        assert run_restore_drill(actor=Actor.system()).ok
    with at(30):
        run_backup(actor=Actor.system())
    assert verified.name not in [p.name for p in backup_disk.iterdir()]


def test_after_a_restore_the_catalogue_knows_every_archive_the_destinations_hold(backup_disk, submit):
    submit()
    first = run_backup(actor=Actor.system()).backup
    later = "bastion-20991231T000000Z-0000aa.tar.gpg"
    shutil.copyfile(backup_disk / first.name, backup_disk / later)  # made after the snapshot: not catalogued
    # What a restored catalogue looks like: the archive's own run mid-way, with no copies yet.
    Backup.objects.filter(pk=first.pk).update(state=BackupState.RUNNING, master_versions=[])
    BackupCopy.objects.filter(backup=first).delete()
    lost = Backup.objects.create(name="bastion-20260101T000000Z-0000ff.tar.gpg")

    recatalogue(SimpleNamespace(master_versions=[1]))  # type: ignore[arg-type]  # only its versions are read

    assert Backup.objects.get(name=first.name).state == BackupState.STORED
    entered = Backup.objects.get(name=later)
    assert entered.master_versions == [1]
    assert entered.copies.get().state == CopyState.STORED
    lost.refresh_from_db()
    assert lost.state == BackupState.FAILED


def test_a_failed_copy_blocks_retirement_until_a_listing_shows_it_gone(backup_disk, submit):
    submit()
    ghost = Backup.objects.create(name="bastion-20260101T000000Z-00000a.tar.gpg", master_versions=[1])
    copy = BackupCopy.objects.create(backup=ghost, destination=f"dir:{backup_disk}", state=CopyState.FAILED)

    run_backup(actor=Actor.system())

    copy.refresh_from_db()
    assert copy.state == CopyState.PRUNED  # the directory's listing does not hold it


def test_an_archive_written_in_place_is_removed_if_the_run_dies_before_cataloguing_it(
    backup_disk, submit, monkeypatch
):
    from bastion.reports.services import backups as service

    submit()

    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(service, "_catalogue_copy", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_backup(actor=Actor.system())

    assert list(backup_disk.iterdir()) == []
    assert Backup.objects.get().state == BackupState.FAILED
