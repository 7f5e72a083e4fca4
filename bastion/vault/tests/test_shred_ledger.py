"""The shred ledger: an append-only, fsynced file beside the master key, re-applied to data keys."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bastion.vault import shredding
from bastion.vault.errors import KeyDestroyed
from bastion.vault.models import DataKey
from bastion.vault.services import create_data_key
from bastion.vault.shredding import LEDGER_NAME, ShredLedger, shred_ledger

SHREDDED_AT = datetime(2026, 3, 4, 5, 6, 7, tzinfo=UTC)


@pytest.fixture
def state_dir(settings, tmp_path: Path) -> Path:
    settings.VAULT_STATE_DIR = tmp_path / "state"
    return settings.VAULT_STATE_DIR


@pytest.fixture
def ledger(state_dir: Path) -> ShredLedger:
    return shred_ledger()


def lines(ledger: ShredLedger) -> list[dict[str, str]]:
    return [json.loads(line) for line in ledger.path.read_text().splitlines()]


def test_the_ledger_lives_in_the_vault_state_dir(ledger, state_dir):
    assert ledger.path == state_dir / LEDGER_NAME


def test_an_append_writes_one_json_line_with_subject_time_and_reason(ledger):
    ledger.append("report:one", why="retention", at=SHREDDED_AT)
    ledger.append("report:two", why="operator", at=SHREDDED_AT)

    assert lines(ledger) == [
        {"subject": "report:one", "at": "2026-03-04T05:06:07+00:00", "why": "retention"},
        {"subject": "report:two", "at": "2026-03-04T05:06:07+00:00", "why": "operator"},
    ]


def test_the_ledger_file_is_private_in_a_private_directory(ledger, state_dir):
    ledger.append("report:one", why="retention")

    assert stat.S_IMODE(ledger.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o700


def test_an_existing_state_directory_keeps_the_mode_its_operator_gave_it(ledger, state_dir):
    # It may be /etc/bastion beside BASTION_MASTER_KEY_FILE: not ours to re-permission.
    state_dir.mkdir(mode=0o750)
    state_dir.chmod(0o750)
    ledger.append("report:one", why="retention")

    assert stat.S_IMODE(state_dir.stat().st_mode) == 0o750


def test_every_append_is_fsynced_and_the_directory_too_when_the_file_is_new(ledger, monkeypatch):
    synced: list[str] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)

    ledger.append("report:one", why="retention")
    assert synced == ["file", "dir"]
    ledger.append("report:two", why="retention")
    assert synced == ["file", "dir", "file"]


def test_it_skips_a_torn_last_line_and_appends_after_it_cleanly(ledger):
    ledger.append("report:one", why="retention")
    with ledger.path.open("ab") as file:
        file.write(b'{"subj')  # a crash in the middle of a write

    assert ledger.subjects() == {"report:one"}

    ledger.append("report:two", why="operator")
    assert ledger.subjects() == {"report:one", "report:two"}


def test_a_torn_line_that_names_its_subject_in_full_still_counts(ledger):
    ledger.path.parent.mkdir(mode=0o700, parents=True)
    with ledger.path.open("ab") as file:
        file.write(b'{"subject": "report:torn", "at": "2026-0')

    entries = ledger.entries()

    assert set(entries) == {"report:torn"}
    assert entries["report:torn"].at is None


def test_a_missing_ledger_lists_nothing_and_is_not_created_by_reading(ledger, db):
    assert ledger.subjects() == set()
    assert ledger.pending() == []
    assert ledger.apply() == []
    assert not ledger.path.exists()


def test_it_never_appends_through_a_planted_symlink(ledger, tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("")
    ledger.path.parent.mkdir(mode=0o700, parents=True)
    ledger.path.symlink_to(target)

    with pytest.raises(OSError, match="symbolic links"):
        ledger.append("report:one", why="retention")
    assert target.read_text() == ""


@pytest.mark.parametrize("why", ["", "Retention", "two words", "x" * 40, "ok\n"])
def test_it_refuses_a_reason_that_is_not_a_short_code(ledger, why):
    with pytest.raises(ValueError, match="short code"):
        ledger.append("report:one", why=why)


@pytest.mark.parametrize("subject", ["", "report:a\nreport:b", "r" * 201])
def test_it_refuses_a_subject_no_data_key_could_have(ledger, subject):
    with pytest.raises(ValueError, match="subject"):
        ledger.append(subject, why="retention")


@pytest.mark.django_db
def test_apply_destroys_every_listed_key_that_is_alive_at_the_ledger_time(ledger):
    listed, _ = create_data_key(subject="report:listed")
    other, _ = create_data_key(subject="report:other")
    ledger.append("report:listed", why="retention", at=SHREDDED_AT)
    ledger.append("report:gone-from-this-database", why="retention")

    assert ledger.apply() == ["report:listed"]

    listed.refresh_from_db()
    other.refresh_from_db()
    assert listed.destroyed_at == SHREDDED_AT
    assert bytes(listed.wrapped) == b""
    with pytest.raises(KeyDestroyed):
        listed.unwrap()
    assert other.destroyed_at is None
    assert other.unwrap()


@pytest.mark.django_db
def test_apply_is_idempotent(ledger):
    create_data_key(subject="report:listed")
    ledger.append("report:listed", why="retention")

    assert ledger.apply() == ["report:listed"]
    assert ledger.apply() == []
    assert ledger.pending() == []


@pytest.mark.django_db
def test_apply_destroys_again_a_key_a_restore_brought_back(ledger):
    row, plain = create_data_key(subject="report:listed")
    wrapped = bytes(row.wrapped)
    ledger.append("report:listed", why="deletion_request", at=SHREDDED_AT)
    ledger.apply()
    # What restoring an archive made before the shred does to the row.
    DataKey.objects.filter(pk=row.pk).update(wrapped=wrapped, destroyed_at=None)
    row.refresh_from_db()
    assert row.unwrap() == plain

    assert [entry.subject for entry in ledger.pending()] == ["report:listed"]
    assert ledger.apply() == ["report:listed"]
    row.refresh_from_db()
    assert row.is_destroyed


@pytest.mark.django_db
def test_apply_works_through_subjects_in_batches(ledger, monkeypatch):
    monkeypatch.setattr(shredding, "IN_BATCH", 2)
    subjects = [f"report:{n}" for n in range(5)]
    for subject in subjects:
        create_data_key(subject=subject)
        ledger.append(subject, why="retention")

    assert sorted(ledger.apply()) == subjects
    assert DataKey.objects.filter(destroyed_at__isnull=True).count() == 0
