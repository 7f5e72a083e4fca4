"""``bastion keys status | rotate | retire``: output, audit events and exit statuses."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.vault.keys import FileKeyProvider
from bastion.vault.models import Backup, BackupCopy, BackupState, CopyState, DataKey
from bastion.vault.services import create_data_key

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def provider(private_keys: FileKeyProvider) -> FileKeyProvider:
    """Keys of this test's own: rotating must never touch the suite's real ones."""
    return private_keys


class Terminal(io.StringIO):
    """A stderr that says it is a terminal."""

    def isatty(self) -> bool:
        return True


def run(*args: str, stderr: io.StringIO | None = None) -> str:
    out = io.StringIO()
    call_command("keys", *args, stdout=out, stderr=stderr or io.StringIO())
    return out.getvalue()


def make_keys(count: int, provider: FileKeyProvider) -> None:
    for _ in range(count):
        create_data_key(subject=f"report:{uuid.uuid4()}", provider=provider)


def events(event: Event) -> list[dict[str, Any]]:
    return list(AuditEvent.objects.filter(event=event.value).order_by("id").values_list("data", flat=True))


def test_status_prints_a_table_of_versions_and_the_totals(provider):
    make_keys(4, provider)
    provider.add_version()
    make_keys(1, provider)

    output = run("status")

    assert "Master key provider: FileKeyProvider" in output
    v1 = next(line for line in output.splitlines() if line.startswith("v1 "))
    v2 = next(line for line in output.splitlines() if line.startswith("v2 (current)"))
    assert v1.split()[1:3] == ["4", "0"]
    assert v2.split()[2:4] == ["1", "0"]
    assert "Pending rewrap: 4 data keys" in output
    assert "Org OpenPGP key: none yet" in output
    assert "v1 is kept: 4 live data keys are wrapped under it" in output


def test_status_json_is_machine_readable(provider):
    make_keys(2, provider)

    data = json.loads(run("status", "--json"))

    assert data["current_version"] == 1
    assert data["versions"][0]["live_data_keys"] == 2
    assert data["versions"][0]["retirable"] is False
    assert data["retirable"] == []


def test_rotate_rewraps_reports_progress_once_per_tenth_and_is_audited(provider, settings):
    settings.VAULT_ROTATE_BATCH = 3
    make_keys(40, provider)
    progress = io.StringIO()

    output = run("rotate", stderr=progress)

    assert "Added master key version 2: rewrapped 40 data keys" in output
    lines = progress.getvalue().splitlines()
    assert lines[-1] == f"[{'#' * 30}] 40/40 data keys"
    assert 2 <= len(lines) <= 11
    assert set(DataKey.objects.values_list("master_version", flat=True)) == {2}
    (data,) = events(Event.MASTER_KEY_ROTATED)
    assert data["version"] == 2
    assert data["resumed"] is False
    assert data["rewrapped"] == 40
    assert "org-key" in data["resealed"]
    assert AuditEvent.objects.get(event=Event.MASTER_KEY_ROTATED.value).actor_label == "cli"


def test_on_a_terminal_the_progress_bar_redraws_one_line(provider, settings):
    settings.VAULT_ROTATE_BATCH = 5
    make_keys(10, provider)
    terminal = Terminal()

    run("rotate", stderr=terminal)

    drawn = terminal.getvalue()
    assert drawn.count("\r[") == 3  # 0, 5 and 10 of 10
    assert f"\r[{'#' * 15}{' ' * 15}] 5/10 data keys" in drawn
    assert drawn.endswith("10/10 data keys\n")


def test_retire_destroys_free_versions_and_audits_each(provider):
    make_keys(2, provider)
    run("rotate")
    run("rotate")

    output = run("retire")

    assert "Retired master key version 1." in output
    assert "Retired master key version 2." in output
    assert provider.versions() == [3]
    assert [data["version"] for data in events(Event.MASTER_KEY_RETIRED)] == [1, 2]


def test_retire_with_nothing_free_explains_why_and_succeeds(provider):
    make_keys(1, provider)

    output = run("retire")

    assert "No master key version can be retired now." in output
    assert "v1: it is the current version" in output
    assert events(Event.MASTER_KEY_RETIRED) == []


def test_retiring_a_version_an_archive_holds_fails_with_the_reason(provider):
    make_keys(1, provider)
    run("rotate")
    backup = Backup.objects.create(name="bastion-kept", state=BackupState.STORED, master_versions=[1])
    BackupCopy.objects.create(backup=backup, destination="disk", state=CopyState.STORED)

    with pytest.raises(CommandError, match=r"version 1: .*bastion-kept") as caught:
        run("retire", "--version", "1")

    assert caught.value.returncode == 1
    assert provider.versions() == [1, 2]
    assert events(Event.MASTER_KEY_RETIRED) == []


def test_rotate_with_a_single_key_file_says_what_to_do(settings, tmp_path):
    (tmp_path / "master.key").write_bytes(bytes(32))
    settings.MASTER_KEY_FILE = str(tmp_path / "master.key")

    with pytest.raises(CommandError, match=r"cannot add a master key version.*BASTION_MASTER_KEY_DIR"):
        run("rotate")

    assert events(Event.MASTER_KEY_ROTATED) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "required: {status,rotate,retire}"),
        (("spin",), "invalid choice"),
        (("retire", "--version", "two"), "invalid int value"),
    ],
)
def test_bad_arguments_are_command_errors(args, message):
    with pytest.raises(CommandError, match=message):
        run(*args)
