"""``bastion shred TRACKING_ID``: an operator destroys one report's content, after confirming."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from bastion import cli
from bastion.audit.events import Event
from bastion.audit.models import AuditEvent
from bastion.reports.models import Report
from bastion.reports.tests.conftest import a_file, private_vault, submit  # noqa: F401  (fixtures)
from bastion.vault.models import DataKey
from bastion.vault.shredding import shred_ledger

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def state_dir(settings, tmp_path: Path) -> Path:
    settings.VAULT_STATE_DIR = tmp_path / "state"
    return settings.VAULT_STATE_DIR


@pytest.fixture
def report(submit) -> Report:  # noqa: F811  (the imported fixture)
    return submit(attachments=[a_file()]).report


def shred(*args: str) -> str:
    out = io.StringIO()
    call_command("shred", *args, stdout=out)
    return out.getvalue()


def destroyed(report: Report) -> bool:
    return DataKey.objects.get(pk=report.data_key_id).is_destroyed


def test_with_yes_it_shreds_and_audits_bastion_as_the_operator_s_hand(
    report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        output = shred(report.tracking_id, "--yes", "--reason", "legal request LR-2026-14")

    assert "content destroyed" in output
    assert destroyed(report)
    assert f"report:{report.uid}" in shred_ledger().subjects()
    event = AuditEvent.objects.get(event=Event.REPORT_SHREDDED)
    assert (event.actor_kind, event.actor_label) == ("system", "system (bastion shred)")
    assert event.data == {
        "why": "operator",
        "tracking_id": report.tracking_id,
        "note": "legal request LR-2026-14",
    }


def test_it_forgives_case_and_hyphens_in_the_tracking_id(report, django_capture_on_commit_callbacks):
    typed = report.tracking_id.lower().replace("-", "")

    with django_capture_on_commit_callbacks(execute=True):
        shred(typed, "--yes")

    assert destroyed(report)


def test_an_unknown_tracking_id_is_a_clear_error_and_a_failing_exit_status(db, capsys):
    with pytest.raises(CommandError, match="No report has the tracking ID 'BST-0000000000'"):
        shred("BST-0000000000", "--yes")

    with pytest.raises(SystemExit) as exited:
        cli.main(["shred", "not-an-id", "--yes"])
    assert exited.value.code != 0
    assert "nothing was destroyed" in capsys.readouterr().err


def test_an_already_shredded_report_is_reported_as_such_and_left_alone(
    report, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        shred(report.tracking_id, "--yes")

    output = shred(report.tracking_id, "--yes")

    assert "already destroyed" in output
    assert "(by an operator)" in output
    assert AuditEvent.objects.filter(event=Event.REPORT_SHREDDED).count() == 1


def test_without_a_terminal_it_requires_yes(report, monkeypatch):
    monkeypatch.setattr("sys.stdin", io.StringIO(""))

    with pytest.raises(CommandError, match="--yes"):
        shred(report.tracking_id)

    assert not destroyed(report)


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_it_shreds_once_the_tracking_id_is_typed_back(
    report, monkeypatch, django_capture_on_commit_callbacks
):
    monkeypatch.setattr("sys.stdin", Terminal(report.tracking_id + "\n"))

    with django_capture_on_commit_callbacks(execute=True):
        output = shred(report.tracking_id)

    assert "cannot be undone" in output
    assert destroyed(report)


def test_on_a_terminal_any_other_answer_destroys_nothing(report, monkeypatch):
    monkeypatch.setattr("sys.stdin", Terminal("yes\n"))

    with pytest.raises(CommandError, match="Not confirmed"):
        shred(report.tracking_id)

    assert not destroyed(report)
