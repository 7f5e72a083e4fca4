"""The ``bastion`` command maps product-style names onto Django's management commands."""

from __future__ import annotations

import pytest

from bastion import cli


def test_it_runs_a_management_command_and_returns_zero(capsys):
    assert cli.main(["check"]) == 0
    assert "no issues" in capsys.readouterr().out


def test_it_accepts_dashed_command_names(capsys):
    with pytest.raises(SystemExit):
        cli.main(["verify-audit", "--help"])
    assert "verify_audit" in capsys.readouterr().out
