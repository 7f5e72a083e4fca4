"""The restore-drill key (made once, sealed, resealed on rotation) and the backup recipient keys."""

from __future__ import annotations

import shutil
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from bastion.lib.openpgp import generate_org_key, load_secret_key, parse_public_key
from bastion.vault.backup import recipients
from bastion.vault.backup.errors import BackupError
from bastion.vault.backup.recipients import (
    backup_recipients,
    drill_key,
    drill_key_path,
    drill_key_version,
    drill_secret_keys,
    export_drill_key,
    reseal_drill_key,
)
from bastion.vault.keys import FileKeyProvider
from bastion.vault.rotation import sealed_secret_holders


@pytest.fixture(autouse=True)
def state_dir(settings, tmp_path: Path) -> Path:
    settings.VAULT_STATE_DIR = tmp_path / "state"
    settings.BACKUP_RECIPIENTS = []
    return settings.VAULT_STATE_DIR


def test_the_drill_key_is_made_once_sealed_in_a_private_file_and_reused(state_dir: Path) -> None:
    first = drill_key()
    again = drill_key()

    path = drill_key_path()
    assert path.parent == state_dir
    assert path.stat().st_mode & 0o777 == 0o600
    assert state_dir.stat().st_mode & 0o777 == 0o700
    assert again.fingerprint == first.fingerprint
    assert first.user_ids == ("Bastion restore drill <drill@bastion.invalid>",)
    stored = path.read_bytes()
    assert b"PRIVATE KEY" not in stored
    assert first.secret_bytes() not in stored
    assert [p.name for p in state_dir.iterdir()] == [path.name]  # no temp file left


def test_the_drill_key_version_is_the_master_version_sealing_it(provider: FileKeyProvider) -> None:
    assert drill_key_version() is None
    drill_key(provider=provider)
    assert drill_key_version() == provider.current_version() == 1


def test_resealing_moves_the_drill_key_to_the_newest_master_version(provider: FileKeyProvider) -> None:
    key = drill_key(provider=provider)
    assert not reseal_drill_key(provider=provider)  # already under the current version

    provider.add_version()
    assert reseal_drill_key(provider=provider)

    assert drill_key_version() == 2
    assert drill_key(provider=provider).fingerprint == key.fingerprint
    assert not reseal_drill_key(provider=provider)


def test_resealing_without_a_drill_key_changes_nothing(provider: FileKeyProvider) -> None:
    assert not reseal_drill_key(provider=provider)
    assert not drill_key_path().exists()


def test_a_drill_key_close_to_expiry_is_replaced_and_its_predecessor_kept(
    monkeypatch: pytest.MonkeyPatch, provider: FileKeyProvider
) -> None:
    old = drill_key()
    monkeypatch.setattr(recipients, "RENEW_BEFORE", timedelta(days=5000))
    new = drill_key()
    monkeypatch.setattr(recipients, "RENEW_BEFORE", timedelta(days=30))

    assert new.fingerprint != old.fingerprint
    # Archives made before the renewal are encrypted to the old key: it still opens them.
    assert [load_secret_key(k).fingerprint for k in drill_secret_keys()] == [new.fingerprint, old.fingerprint]
    provider.add_version()
    assert reseal_drill_key(provider=provider)
    [holder] = [h for h in sealed_secret_holders() if h.name == "drill-key"]
    assert holder.versions() == Counter({2: 2})


def test_the_exported_drill_key_is_its_armored_secret() -> None:
    exported = export_drill_key()
    assert exported.startswith("-----BEGIN PGP PRIVATE KEY BLOCK-----")
    assert load_secret_key(exported).fingerprint == drill_key().fingerprint


def test_backup_recipients_are_the_drill_key_then_each_configured_key(settings, tmp_path: Path) -> None:
    operator = generate_org_key("Operator <ops@example.org>")
    key_file = tmp_path / "ops.asc"
    key_file.write_text(operator.armored_public())
    settings.BACKUP_RECIPIENTS = [str(key_file)]

    found = [parse_public_key(armored).fingerprint for armored in backup_recipients()]

    assert found == [drill_key().fingerprint, operator.fingerprint]


class Gpg:
    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *args: str) -> bytes:
        command = [
            "gpg",
            "--homedir",
            str(self.home),
            "--batch",
            "--no-tty",
            "--quiet",
            "--passphrase",
            "",
            *args,
        ]
        return subprocess.run(command, capture_output=True, check=True, timeout=60).stdout


@pytest.fixture
def gpg(tmp_path: Path) -> Iterator[Gpg]:
    if shutil.which("gpg") is None:
        pytest.skip("the gpg binary is missing: apt-get install gnupg")
    home = tmp_path / "gnupg"
    home.mkdir(mode=0o700)
    yield Gpg(home)
    subprocess.run(["gpgconf", "--homedir", str(home), "--kill", "gpg-agent"], check=False, timeout=30)


def test_a_missing_recipient_file_is_named(settings, tmp_path: Path) -> None:
    settings.BACKUP_RECIPIENTS = [str(tmp_path / "gone.asc")]
    with pytest.raises(BackupError, match=f"backup recipient key file {tmp_path}/gone.asc does not exist"):
        backup_recipients()


@pytest.mark.parametrize(
    ("make", "message"),
    [
        ("junk", "not a public key we can read"),
        ("secret", "private key"),
        ("sign-only", "no usable encryption subkey"),
        ("expired", "expired on 2020-"),
    ],
)
def test_an_unusable_recipient_key_is_refused_naming_its_file(
    settings, tmp_path: Path, gpg: Gpg, make: str, message: str
) -> None:
    key_file = tmp_path / "recipient.asc"
    if make == "junk":
        key_file.write_text("hello, I am not a key\n")
    elif make == "secret":
        key_file.write_text(generate_org_key("Oops <oops@example.org>").armored_secret())
    elif make == "sign-only":
        gpg("--quick-gen-key", "Signer <sign@example.org>", "ed25519", "sign", "never")
        key_file.write_bytes(gpg("--armor", "--export", "sign@example.org"))
    else:
        faked = ["--faked-system-time", "20190101T000000!"]
        gpg(*faked, "--quick-gen-key", "Old <old@example.org>", "ed25519", "cert", "1y")
        fingerprint = (
            gpg("--list-keys", "--with-colons", "old@example.org").decode().split("fpr:::::::::")[1][:40]
        )
        gpg(*faked, "--quick-add-key", fingerprint, "cv25519", "encr", "1y")
        key_file.write_bytes(gpg("--armor", "--export", "old@example.org"))
    settings.BACKUP_RECIPIENTS = [str(key_file)]

    with pytest.raises(BackupError, match=f"backup recipient key file {key_file}: .*{message}"):
        backup_recipients()
