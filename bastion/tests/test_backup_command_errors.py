"""``bastion backup`` and ``bastion restore`` when things go wrong: what the operator reads, the exit code.

cron and monitoring only see the exit status and the output, so every failure exits 1 with one line
that says what to fix, and a restore that cannot go ahead leaves the live data as it was. The whole
successful walk-through is ``test_backup_done_when.py``; the services are in
``reports/tests/test_backups.py``.
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bastion.audit.services import Actor
from bastion.lib.openpgp import generate_org_key
from bastion.reports.models import Report
from bastion.reports.services.backups import run_backup
from bastion.reports.services.shredding import ShredReason, shred_report
from bastion.reports.tests.conftest import private_vault  # noqa: F401  (the autouse fixture)
from bastion.vault.models import Backup, BackupState

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)"),
    # A backup reads the database through a connection of its own: the data must be committed.
    pytest.mark.django_db(transaction=True),
]

OLD_ARCHIVE = "bastion-20200101T000000Z-0000aa.tar.gpg"


def run(command: str, *args: str) -> tuple[int, str, str]:
    """Run a management command as cron would: its exit status, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command(command, *args, stdout=out, stderr=err)
    except SystemExit as exit_:
        return int(exit_.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


# --- bastion backup --------------------------------------------------------------------------------


def test_a_backup_with_nowhere_to_go_exits_1_and_names_the_setting(backup_disk, settings):
    settings.BACKUP_DESTINATIONS = []

    status, out, err = run("backup")

    assert status == 1
    assert err.startswith("Backup failed: ")
    assert "BASTION_BACKUP_TO" in err
    assert out == ""


def test_a_backup_that_misses_one_destination_says_which_and_exits_1(
    backup_disk,
    settings,
    submit,
    tmp_path,
):
    submit()
    unmounted = tmp_path / "not-mounted"
    settings.BACKUP_DESTINATIONS = [str(backup_disk), str(unmounted)]

    status, out, _err = run("backup")

    assert status == 1
    [name] = [p.name for p in backup_disk.iterdir()]
    assert f"Backup {name}: " in out
    assert f"  dir:{backup_disk}: {backup_disk / name}" in out
    assert f"  dir:{unmounted}: FAILED: backup destination {unmounted} does not exist" in out
    assert not unmounted.exists()  # a missing mount point is never created


def test_a_backup_says_how_many_old_archives_it_pruned(backup_disk, settings, submit):
    submit()
    settings.BACKUP_DESTINATIONS = [f"{backup_disk}?keep=7d"]
    (backup_disk / OLD_ARCHIVE).write_bytes(b"an archive from 2020, past every retention rule")

    status, out, err = run("backup")

    assert (status, err) == (0, "")
    assert f"  dir:{backup_disk}: pruned 1 old archive(s)" in out
    assert OLD_ARCHIVE not in [p.name for p in backup_disk.iterdir()]


def test_a_drill_with_no_archive_anywhere_exits_1_with_the_reason(backup_disk):
    status, out, err = run("backup", "--verify")

    assert status == 1
    assert err == "Restore drill FAILED on (none): no archive was found in any backup destination\n"
    assert out == ""


def test_a_drill_reports_the_rows_it_left_shredded(backup_disk, submit):
    submit()
    doomed = submit(title="Sent to the wrong program").report
    run_backup(actor=Actor.system())
    shred_report(report=doomed, actor=Actor.system(), why=ShredReason.OPERATOR)

    status, out, err = run("backup", "--verify")

    assert (status, err) == (0, "")
    assert "Restore drill passed: " in out
    assert "  reports.Report: 1 opened" in out
    assert "  shredded rows left unopened: " in out


# --- bastion restore ---------------------------------------------------------------------------------


@pytest.fixture
def archive(backup_disk, submit) -> Path:
    """A real archive of one report, in the directory destination."""
    submit()
    return backup_disk / run_backup(actor=Actor.system()).backup.name


def test_a_restore_of_a_missing_file_is_a_usage_error(tmp_path):
    with pytest.raises(CommandError, match=r"no archive at .*nothing\.tar\.gpg"):
        call_command("restore", str(tmp_path / "nothing.tar.gpg"))


@pytest.mark.parametrize("kind", ["directory", "binary"])
def test_a_secret_key_file_that_cannot_be_read_is_a_usage_error(archive, tmp_path, kind):
    key = tmp_path / "backup-key.asc"
    if kind == "directory":
        key.mkdir()
    else:
        key.write_bytes(b"\xff\xfe not text")

    with pytest.raises(CommandError, match=r"cannot read the secret key .*backup-key\.asc"):
        call_command("restore", str(archive), "--secret-key", str(key))


def test_a_restore_over_live_data_is_refused_without_force(archive):
    status, _out, err = run("restore", str(archive))

    assert status == 1
    assert err.startswith("Restore refused: this instance already holds data")
    assert "--force" in err
    assert Report.objects.count() == 1


def test_a_restore_with_the_wrong_key_is_refused_and_changes_nothing(archive, tmp_path):
    stranger = tmp_path / "someone-elses.asc"
    stranger.write_text(generate_org_key("Someone else <else@example.invalid>").armored_secret())
    before = list(Report.objects.values_list("tracking_id", flat=True))

    status, _out, err = run("restore", str(archive), "--force", "--secret-key", str(stranger))

    assert status == 1
    assert err.startswith("Restore refused: this archive was not encrypted to the key you gave")
    assert list(Report.objects.values_list("tracking_id", flat=True)) == before
    assert Backup.objects.get().state == BackupState.STORED


def test_a_restore_whose_work_dir_cannot_be_made_fails_with_the_os_error(archive, settings, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    settings.BACKUP_WORK_DIR = blocker / "work"

    status, _out, err = run("restore", str(archive), "--force")

    assert status == 1
    assert err.startswith("Restore failed: NotADirectoryError: ")
    assert str(blocker) in err
    assert Report.objects.count() == 1
