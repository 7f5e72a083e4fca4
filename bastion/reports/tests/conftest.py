"""Fixtures for the reports tests: a private vault per test, a reporter's gpg key, and ``submit``.

Personas (alice, bob, charlie, dave) come from the root conftest; rita, the researcher, has no
account and reaches her report through ``reporter_actor(report)``. Tasks run inline (the test
environment's ImmediateBackend) once ``django_capture_on_commit_callbacks(execute=True)`` runs
the on-commit enqueues.
"""

from __future__ import annotations

import io
import shutil
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bastion.reports.models import Channel, Program, Report
from bastion.reports.services import IncomingFile, Submission, SubmitResult, submit_report
from bastion.test import rita

# Put into every text field of a submission: it must never show up anywhere at rest or in clear mail.
CANARY = "CANARY-9f1e2d7c-do-not-leak"
FILE_BYTES = (CANARY.encode() + b"\x00\xffbinary") * 5000  # ~170 KB: several 64 KiB chunks


@pytest.fixture(autouse=True)
def private_vault(private_keys, settings, tmp_path: Path) -> Path:
    """Each test gets its own master keys, blob directory and vault state (the real local backends)."""
    settings.BASE_URL = "https://bastion.example"
    settings.DEFAULT_FROM_EMAIL = "security@bastion.example"
    return tmp_path / "files"


def blob_files(root: Path) -> list[Path]:
    """Every file under the blob directory (including any temp file left behind)."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def a_submission(**overrides: Any) -> Submission:
    """rita's report, with the canary in every field that holds content."""
    values: dict[str, Any] = {
        "title": f"Invoice export leaks other tenants {CANARY}",
        "description": f"The **/export** endpoint returns every tenant's invoices.\r\n{CANARY}\n",
        "product": "Billing",
        "version": "4.2",
        "steps": f"1. Sign in\n2. GET /export?tenant=2 {CANARY}",
        "impact": "Read any customer's invoices.",
        "reporter_name": rita.full_name,
        "reporter_handle": "rita",
        "email": rita.email,
        "credit_preference": "name",
    }
    values.update(overrides)
    return Submission(**values)


def pay_bounties(**table: list[object]) -> Program:
    """The default program, paying bounties by ``table`` (severity → [min, max]) in USD.

    An admin approves an award above 1,000. Shared by the bounty tests of reports, triage and
    the portal, so all three work under the same terms.
    """
    program = Program.objects.default()
    program.offers_bounty = True
    program.bounty_table = table or {"high": [500, 2000]}
    program.currency = "USD"
    program.approval_threshold = Decimal("1000")
    program.save()
    return program


def rate_high(report: Report) -> Report:
    """``report`` scored high, in the database and on the instance."""
    Report.objects.filter(pk=report.pk).update(severity="high")
    report.severity = "high"
    return report


def a_file(data: bytes = FILE_BYTES, name: str = f"poc-{CANARY}.py", content_type: str = "text/x-python"):
    return IncomingFile(filename=name, content_type=content_type, stream=io.BytesIO(data))


SubmitFn = Callable[..., SubmitResult]


@pytest.fixture
def submit(db, django_capture_on_commit_callbacks) -> SubmitFn:
    """``submit(**submission_fields, attachments=[...], idempotency_key=...)``, on-commit work run."""

    def run(*, attachments=(), idempotency_key=None, channel=Channel.WEB, **fields: Any) -> SubmitResult:
        with django_capture_on_commit_callbacks(execute=True):
            return submit_report(
                submission=a_submission(**fields),
                attachments=list(attachments),
                channel=channel,
                policy_version=3,
                actor=None,
                ip="192.0.2.10",
                idempotency_key=idempotency_key,
            )

    return run


# --- gpg ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gpg:
    """The gpg binary bound to one home directory of its own."""

    home: Path

    def __call__(self, *args: str, input: bytes | None = None, check: bool = True):
        cmd = ["gpg", "--homedir", str(self.home), "--batch", "--no-tty", "--status-fd", "2", *args]
        result = subprocess.run(cmd, input=input, capture_output=True, check=False, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"{cmd} failed: {result.stderr.decode(errors='replace')}")
        return result

    def kill_agent(self) -> None:
        subprocess.run(
            ["gpgconf", "--homedir", str(self.home), "--kill", "gpg-agent"], check=False, timeout=30
        )


def new_gpg(home: Path) -> Gpg:
    for binary in ("gpg", "gpgconf"):
        if shutil.which(binary) is None:
            pytest.fail(f"{binary} is missing: apt-get install gnupg")
    home.mkdir(mode=0o700)
    return Gpg(home)


@pytest.fixture
def gpg(tmp_path) -> Iterator[Gpg]:
    home = new_gpg(tmp_path / "gnupg")
    yield home
    home.kill_agent()


@dataclass(frozen=True)
class ReporterKey:
    """rita's key pair as her own gpg made it (Ed25519 + Cv25519, no passphrase)."""

    public: str
    secret: bytes
    fingerprint: str


def _make_key(home: Path, user_id: str, *options: str, expiry: str = "1y") -> ReporterKey:
    gpg = new_gpg(home)
    try:
        unprotected = ("--pinentry-mode", "loopback", "--passphrase", "")
        gpg(*unprotected, *options, "--quick-gen-key", user_id, "future-default", "default", expiry)
        colons = gpg("--with-colons", "--list-keys").stdout.decode()
        fingerprint = next(line.split(":")[9] for line in colons.splitlines() if line.startswith("fpr:"))
        return ReporterKey(
            public=gpg("--armor", "--export", fingerprint).stdout.decode(),
            secret=gpg(*unprotected, "--armor", "--export-secret-keys", fingerprint).stdout,
            fingerprint=fingerprint,
        )
    finally:
        gpg.kill_agent()


@pytest.fixture(scope="session")
def rita_key(tmp_path_factory) -> ReporterKey:
    return _make_key(tmp_path_factory.mktemp("rita") / "gnupg", f"Rita <{rita.email}>")


@pytest.fixture(scope="session")
def expired_key(tmp_path_factory) -> ReporterKey:
    """A key made "in 2020" that expired a day later: what a reporter's key becomes in time."""
    home = tmp_path_factory.mktemp("expired") / "gnupg"
    return _make_key(home, f"Rita <{rita.email}>", "--faked-system-time", "20200101T000000!", expiry="1d")


# --- backups --------------------------------------------------------------------------------------


@pytest.fixture
def backup_disk(settings, tmp_path: Path) -> Path:
    """One directory destination and a private work dir, with no recipient keys; the directory."""
    path = tmp_path / "disk"
    path.mkdir()
    settings.BACKUP_DESTINATIONS = [str(path)]
    settings.BACKUP_RECIPIENTS = []
    settings.BACKUP_WORK_DIR = tmp_path / "work"
    return path
