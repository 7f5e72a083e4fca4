"""Start-up configuration: bad values stop Bastion with a message, production problems are checks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bastion(args: list[str], env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """Run the real ``bastion`` command in a fresh interpreter with only the given BASTION_* env."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("BASTION_", "DATABASE_URL"))}
    clean |= {"BASTION_DATA_DIR": str(tmp_path / "var"), **env}
    return subprocess.run(
        [sys.executable, "-m", "bastion.cli", *args],
        cwd=REPO,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("BASTION_DEBUG", "perhaps"),
        ("BASTION_LOCKOUT_FAILURES", "0"),
        ("BASTION_LISTEN", "nowhere"),
        ("BASTION_TASKS_BACKEND", "celery"),
        ("DATABASE_URL", "mysql://db/bastion"),
        ("BASTION_BASE_URL", "ftp://example.org"),
    ],
)
def test_a_bad_value_stops_start_up_naming_the_variable(tmp_path, name, value):
    result = _bastion(["check"], {name: value}, tmp_path)
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


def test_smtp_cannot_use_both_starttls_and_implicit_tls(tmp_path):
    env = {"BASTION_SMTP_HOST": "smtp.example.org", "BASTION_SMTP_SSL": "1"}
    result = _bastion(["check"], env, tmp_path)
    assert result.returncode != 0
    assert "BASTION_SMTP_STARTTLS and BASTION_SMTP_SSL" in result.stderr


def test_zero_configuration_is_a_working_instance_but_not_a_production_one(tmp_path):
    assert _bastion(["check"], {}, tmp_path).returncode == 0
    deploy = _bastion(["check", "--deploy"], {}, tmp_path)
    for check_id in ("bastion.W001", "bastion.W002", "bastion.W003", "bastion.W004", "vault.W001"):
        assert check_id in deploy.stderr + deploy.stdout
    assert (tmp_path / "var" / "keys" / "secret_key").exists()


def test_debug_mode_is_an_error_for_production(tmp_path):
    deploy = _bastion(["check", "--deploy"], {"BASTION_DEBUG": "1"}, tmp_path)
    assert deploy.returncode != 0
    assert "bastion.E001" in deploy.stderr


def test_a_production_configuration_passes_check_deploy_cleanly(tmp_path):
    secret = tmp_path / "etc" / "secret_key"
    secret.parent.mkdir()
    secret.write_text("k" * 20 + "Zq8#vR2!mW5$xT9&pL4*nB7@cF1^hJ6%dG3(sK0)yE")
    env = {
        "BASTION_HTTPS": "1",
        "BASTION_SECRET_KEY_FILE": str(secret),
        "BASTION_MASTER_KEY_DIR": str(tmp_path / "etc" / "master-keys"),
        "BASTION_ALLOWED_HOSTS": "security.example.org",
        "BASTION_BASE_URL": "https://security.example.org",
        "BASTION_SMTP_HOST": "smtp.example.org",
        "BASTION_SMTP_PASSWORD_FILE": str(secret),
    }
    result = _bastion(["check", "--deploy", "--fail-level", "WARNING"], env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
