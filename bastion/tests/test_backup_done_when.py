"""Issue 8's "done when", as a person would do it: through the ``bastion`` command, on a fresh instance.

Every step runs the real CLI in a child process with its own data dir, master-key dir (off the
data disk, as the README asks) and database:

- configure two directories and an S3 bucket (moto's server), and an operator's gpg key;
- submit reports with files and a conversation, and take a backup;
- shred one report after the archive was made;
- destroy the data dir (and, on PostgreSQL, the database);
- restore with ``bastion restore``, and separately with plain ``gpg --decrypt`` and the README's
  steps;
- find every report byte-identical, and the shredded one shredded again.

The second test shows that retiring a master-key version leaves an older archive unable to reveal
a shredded report, even restored by hand without the shred ledger.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection

from bastion.vault.testing import make_bucket, moto_s3_server

# Children run from the checkout: coverage (patch = subprocess) resolves its omit patterns against
# the working directory, and from elsewhere it would record every test module as unexecuted code.
REPO = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.skipif(shutil.which("gpg") is None, reason="needs the gpg binary (make system-deps)"),
    pytest.mark.timeout(600),
]

SEED = """
import io, os, sys
from bastion.audit.services import Actor
from bastion.reports.models import Visibility
from bastion.reports.services import post_message, reporter_actor, submit_report
from bastion.reports.services._shared import IncomingFile
from bastion.reports.services.submission import Submission
for number in range(3):
    content = io.BytesIO(os.urandom(200_000 + number))
    files = [IncomingFile(f"poc-{number}.bin", "application/octet-stream", content)]
    submission = Submission(
        title=f"Stored XSS number {number} \\u2603",
        description="Steps:\\n\\n1. open the page\\n2. <script>alert(1)</script>",
        email=f"rita{number}@example.net",
        reporter_name="Rita Reporter",
    )
    result = submit_report(
        submission=submission, attachments=files, channel="web", policy_version=1,
        actor=Actor.anonymous(), acknowledge=False,
    )
    post_message(
        report=result.report, body=f"More detail {number}", visibility=Visibility.PUBLIC,
        actor=reporter_actor(result.report),
    )
    print(result.report.tracking_id)
"""

DUMP = """
import base64, hashlib, json
from bastion.reports.models import Attachment, Message, Report
from bastion.reports.sealing import open_field, stream_aad
from bastion.vault.storage import get_blob_storage
from bastion.vault.streams import iter_unsealed
out = {}
for report in Report.objects.select_related("data_key", "reporter").order_by("tracking_id"):
    if report.data_key.is_destroyed:
        out[report.tracking_id] = "shredded"
        continue
    try:
        key = report.data_key_plain()
    except Exception as error:
        out[report.tracking_id] = type(error).__name__
        continue
    files = {}
    for attachment in Attachment.objects.filter(report=report).order_by("uid"):
        with get_blob_storage().open(attachment.blob_name) as blob:
            plain = b"".join(iter_unsealed(blob, key=key, aad=stream_aad(attachment, "blob")))
        files[str(attachment.uid)] = [attachment.sha256, hashlib.sha256(plain).hexdigest(), len(plain)]
    out[report.tracking_id] = {
        "title": open_field(report, "title", key=key),
        "content": open_field(report, "content", key=key),
        "email": open_field(report.reporter, "email", key=key),
        "sealed": base64.b64encode(bytes(report.title) + bytes(report.content)).decode(),
        "messages": [
            open_field(m, "body", key=key) for m in Message.objects.filter(report=report).order_by("uid")
        ],
        "files": files,
    }
print(json.dumps(out, sort_keys=True))
"""


@dataclass
class Instance:
    """One Bastion instance driven through its CLI: its environment and directories."""

    root: Path
    env: dict[str, str]
    data: Path
    disks: list[Path]
    operator_home: Path
    database_url: str | None

    def bastion(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "bastion.cli", *args],
            env=self.env,
            cwd=REPO,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"bastion {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def shell(self, code: str) -> str:
        return self.bastion("shell", "--no-imports", "-c", code).stdout

    def dump(self) -> dict[str, object]:
        return json.loads(self.shell(DUMP).strip().splitlines()[-1])

    def archives(self, disk: Path) -> list[Path]:
        return sorted(disk.glob("bastion-*.tar.gpg"))

    def destroy_data(self) -> None:
        """Lose the data disk: the data dir, and on PostgreSQL the database itself."""
        shutil.rmtree(self.data)
        if self.database_url:
            _recreate_database(self.database_url)

    def restore_by_hand(self, archive: Path) -> None:
        """The README's steps: gpg --decrypt, tar -x, put the database and files back, migrate."""
        unpacked = self.root / f"unpacked-{uuid.uuid4().hex[:6]}"
        unpacked.mkdir()
        command = ["gpg", "--homedir", str(self.operator_home), "--batch", "--decrypt", str(archive)]
        with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as gpg:
            subprocess.run(["tar", "-x", "-C", str(unpacked)], stdin=gpg.stdout, check=True)
        assert gpg.returncode == 0
        self.data.mkdir(parents=True, exist_ok=True)
        shutil.copytree(unpacked / "files", self.data / "files")
        if self.database_url:
            subprocess.run(
                [
                    _pg_restore(),
                    "--no-owner",
                    "--no-privileges",
                    "-d",
                    self.database_url,
                    str(unpacked / "database" / "bastion.pgdump"),
                ],
                check=True,
                capture_output=True,
            )
        else:
            shutil.copyfile(unpacked / "database" / "bastion.sqlite3", self.data / "bastion.sqlite3")
        self.bastion("migrate", "--noinput")


def _pg_restore() -> str:
    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_restore"))
    return str(bins[-1]) if bins else "pg_restore"


def _recreate_database(url: str) -> None:
    """Drop and recreate the instance's database through the test run's own connection."""
    name = url.rsplit("/", 1)[1]
    with connection._nodb_cursor() as cursor:  # the server's maintenance database
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    """A fresh instance: two directory destinations, one S3 bucket, an operator key made by gpg."""
    operator_home = tmp_path / "operator-gnupg"
    operator_home.mkdir(mode=0o700)
    gpg = [
        "gpg",
        "--homedir",
        str(operator_home),
        "--batch",
        "--passphrase",
        "",
        "--pinentry-mode",
        "loopback",
    ]
    subprocess.run(
        [*gpg, "--quick-gen-key", "Backups <backups@example.org>", "ed25519", "default", "1y"],
        check=True,
        capture_output=True,
    )
    fingerprint = (
        subprocess.run(
            ["gpg", "--homedir", str(operator_home), "--batch", "--with-colons", "--list-keys"],
            check=True,
            capture_output=True,
            text=True,
        )
        .stdout.split("fpr:::::::::")[1]
        .split(":")[0]
    )
    subprocess.run(
        [*gpg, "--quick-add-key", fingerprint, "cv25519", "encr", "1y"], check=True, capture_output=True
    )
    operator_key = tmp_path / "operator.asc"
    operator_key.write_bytes(
        subprocess.run(
            ["gpg", "--homedir", str(operator_home), "--armor", "--export"], check=True, capture_output=True
        ).stdout
    )
    disks = [tmp_path / "disk1", tmp_path / "disk2"]
    for disk in disks:
        disk.mkdir()
    database_url = None
    if connection.vendor == "postgresql":
        settings_dict = connection.settings_dict
        name = f"bastion_done_{uuid.uuid4().hex[:8]}"
        database_url = (
            f"postgres://{settings_dict['USER']}@{settings_dict['HOST']}:{settings_dict['PORT']}/{name}"
        )
        _recreate_database(database_url)
    try:
        with moto_s3_server() as endpoint:
            make_bucket(endpoint, "offsite")
            env = {
                k: v
                for k, v in os.environ.items()
                if not k.startswith(("BASTION_", "DATABASE_URL", "DJANGO_"))
            }
            env.update(
                {
                    "BASTION_DATA_DIR": str(tmp_path / "data"),
                    "BASTION_MASTER_KEY_DIR": str(tmp_path / "keys"),
                    "BASTION_TASKS_BACKEND": "immediate",
                    "BASTION_MAIL_DKIM_CHECK": "false",
                    "BASTION_BACKUP_TO": f"{disks[0]} {disks[1]} s3://offsite/bastion?endpoint={endpoint}&region=us-east-1",
                    "BASTION_BACKUP_RECIPIENTS": str(operator_key),
                }
            )
            if database_url:
                env["DATABASE_URL"] = database_url
            made = Instance(tmp_path, env, tmp_path / "data", disks, operator_home, database_url)
            made.bastion("migrate", "--noinput")
            yield made
    finally:
        subprocess.run(["gpgconf", "--homedir", str(operator_home), "--kill", "gpg-agent"], check=False)
        if database_url:
            with connection._nodb_cursor() as cursor:
                cursor.execute(f'DROP DATABASE IF EXISTS "{database_url.rsplit("/", 1)[1]}" WITH (FORCE)')


@pytest.mark.django_db(transaction=True)
def test_a_person_restores_every_report_byte_identical_and_shredded_stays_shredded(
    instance: Instance,
) -> None:
    tracking_ids = instance.shell(SEED).split()
    assert len(tracking_ids) == 3
    instance.bastion("backup")
    before = instance.dump()
    [archive] = instance.archives(instance.disks[0])
    [twin] = instance.archives(instance.disks[1])
    assert archive.read_bytes() == twin.read_bytes()
    listed = instance.shell(
        "from bastion.vault.backup.destinations import configured_destinations\n"
        "print(configured_destinations()[2].archives())"
    )
    assert archive.name in listed  # the S3 bucket holds it too

    shredded = tracking_ids[2]
    instance.bastion("shred", shredded, "--yes", "--reason", "reporter asked")
    assert instance.dump()[shredded] == "shredded"

    instance.destroy_data()
    instance.bastion("restore", str(archive))
    after = instance.dump()
    assert after[shredded] == "shredded"  # the ledger beside the master key was re-applied
    for kept in tracking_ids[:2]:
        assert after[kept] == before[kept]
    assert "Restore drill passed" in instance.bastion("backup", "--verify").stdout

    refused = instance.bastion("restore", str(archive), check=False)
    assert refused.returncode == 1
    assert "already holds data" in refused.stderr

    instance.destroy_data()
    instance.restore_by_hand(twin)
    instance.bastion("shred", "--apply-ledger")
    by_hand = instance.dump()
    assert by_hand[shredded] == "shredded"
    for kept in tracking_ids[:2]:
        assert by_hand[kept] == before[kept]


@pytest.mark.django_db(transaction=True)
def test_a_retired_master_key_leaves_an_older_archive_unable_to_reveal_a_shredded_report(
    instance: Instance,
) -> None:
    instance.env["BASTION_BACKUP_TO"] = f"{instance.disks[0]}?keep=1d"
    tracking_ids = instance.shell(SEED).split()
    instance.bastion("backup")
    [old_archive] = instance.archives(instance.disks[0])
    stolen = instance.root / "stolen-copy.tar.gpg"
    shutil.copyfile(old_archive, stolen)  # a copy someone kept outside the retention policy

    victim = tracking_ids[0]
    instance.bastion("shred", victim, "--yes")
    instance.bastion("keys", "rotate")
    instance.bastion("backup")  # keep=1d: the new archive replaces the old one, which is pruned
    assert old_archive not in instance.archives(instance.disks[0])
    retired = instance.bastion("keys", "retire")
    assert "1" in retired.stdout
    assert not (instance.root / "keys" / "master-v1.key").exists()

    # The worst case: the old archive restored by hand, and the shred ledger lost with it.
    instance.destroy_data()
    (instance.root / "keys" / "shred-ledger.jsonl").unlink()
    instance.restore_by_hand(stolen)
    revealed = instance.dump()
    assert revealed[victim] == "MasterKeyUnavailable"
    # Everything in that archive was wrapped under the retired version: nothing in it opens.
    assert {revealed[t] for t in tracking_ids} == {"MasterKeyUnavailable"}
